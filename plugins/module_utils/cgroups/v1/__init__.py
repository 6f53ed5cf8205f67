"""cgroup v1 controllers and manager."""
