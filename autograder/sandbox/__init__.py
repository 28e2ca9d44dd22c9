"""Where student code runs: bubblewrap or a dropped-privilege process, with kernel confinement and limits."""
