"""The supplier's command line (``coc``) and the node client it uses."""
