"""cgroup v2 (unified) controllers and manager."""
