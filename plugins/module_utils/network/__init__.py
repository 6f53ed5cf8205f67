"""Container networks: bridges and veths (links), nftables rules (firewall), addresses and records."""
