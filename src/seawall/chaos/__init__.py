"""Breaking the stack on purpose: the fault proxy (``seawall.chaos.proxy``), and later experiments."""
