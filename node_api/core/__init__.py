"""Core plumbing shared by the node, scripts and tests: settings, toolchain, compile, Anvil, web3, deploy."""
