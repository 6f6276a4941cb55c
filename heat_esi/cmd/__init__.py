"""Command-line entry points of heat-esi."""

import warnings

# futurist (through etcd3gw) imports eventlet, which warns on import; these
# commands never use eventlet. Set here, before any command module imports.
warnings.filterwarnings('ignore', message=r'\s*Eventlet is deprecated')
