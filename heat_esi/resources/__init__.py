"""Heat resource plugins of heat-esi.

This directory is what an operator adds to heat-engine's ``plugin_dirs``;
heat-engine imports every module in it, so it holds only resource modules.
"""
