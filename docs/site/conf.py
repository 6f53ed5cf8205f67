# Sphinx configuration of the berth.engine documentation site (scripts/docs.sh builds it into .build/docs/).
# Started from `antsibull-docs sphinx-init`'s conf.py; changed: MyST for the Markdown pages under docs/,
# and no intersphinx: the build is offline and must never fetch an inventory from the internet. References
# into Ansible's own docs (M(ansible.builtin.copy), the common return values) become plain links instead.

import re

from docutils import nodes

project = 'berth.engine'
copyright = 'berth developers'

title = 'berth.engine documentation'
html_short_title = 'berth.engine'

extensions = ['sphinx_antsibull_ext', 'myst_parser']
source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
myst_heading_anchors = 3
# scripts/docs.sh copies README.md and docs/*.md here so that pages include them; they are no pages themselves
exclude_patterns = ['_repo']

pygments_style = 'ansible'
highlight_language = 'YAML+Jinja'

html_theme = 'sphinx_ansible_theme'
html_show_sphinx = False
html_theme_options = {
    'collapse_navigation': False,
    'navigation_depth': 3,
    # the theme's defaults are docs.ansible.com's own: its top bar (blog, forum) and ads; not this site's
    'topbar_links': {},
    'show_extranav': False,
    'show_rtd_ethical_ads': False,
}
html_context = {
    'display_github': False,
    'current_version': 'latest',
}
display_version = False

html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False

default_role = 'any'
nitpicky = True


ANSIBLE_DOCS = 'https://docs.ansible.com/projects/ansible/latest/'
# labels of Ansible's docsite that antsibull-docs' generated pages refer to, and their pages
ANSIBLE_DOCS_PAGES = {
    'common_return_values': 'reference_appendices/common_return_values.html',
    'ansible_configuration_settings': 'reference_appendices/config.html',
}
# ansible_collections.<namespace>.<collection>.<plugin>_<type>[__<anchor>]: a plugin page of another collection
PLUGIN_LABEL = re.compile(
    r'ansible_collections\.(?P<ns>\w+?)\.(?P<coll>\w+?)\.(?P<plugin>\w+?)'
    r'_(?P<type>module|role|become|cache|callback|cliconf|connection|filter|httpapi|inventory|lookup|'
    r'netconf|shell|strategy|test|vars)(__.*)?')


def ansible_docs_url(label, kind='ref'):
    """Where docs.ansible.com has the page for a label (or an environment variable) this site does not
    define, or None."""
    if kind == 'envvar':  # ansible-core's own variables (ANSIBLE_REMOTE_USER): its configuration page
        if not label.startswith('ANSIBLE_'):
            return None
        return f"{ANSIBLE_DOCS}reference_appendices/config.html#envvar-{label}"
    if label in ANSIBLE_DOCS_PAGES:
        return ANSIBLE_DOCS + ANSIBLE_DOCS_PAGES[label]
    match = PLUGIN_LABEL.fullmatch(label)
    if match is None or match['ns'] == 'berth':  # a missing label of our own is a real error
        return None
    return f"{ANSIBLE_DOCS}collections/{match['ns']}/{match['coll']}/{match['plugin']}_{match['type']}.html"


def link_to_ansible_docs(app, env, node, contnode):
    if node.get('refdomain') != 'std' or node.get('reftype') not in ('ref', 'envvar'):
        return None
    url = ansible_docs_url(node['reftarget'], node['reftype'])
    if url is None:
        return None
    reference = nodes.reference('', '', internal=False, refuri=url)
    reference.append(contnode)
    return reference


def setup(app):
    app.connect('missing-reference', link_to_ansible_docs)
