#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""A secret param's stack, made by a real worker's heat_worker (a child).

Run by tests/integration/test_secret_params.py as
``python -m tests.integration.secret_stack <etcd url> <dir> <secret>``:
heat-api and heat-engine in this process (heat_esi.demo.heat's
InProcessHeat, noauth; it configures oslo.config's global CONF, hence a
process of its own), a worker running the heat_worker, logging at DEBUG
into <dir>/heat.log through heat-esi's redacting filter as esi-worker
does. heat-engine's code writes the resource's /config and its job
(actions.write); the worker makes the stack. Prints one JSON line: the
resource id, its /state and the stack's parameters as ``stack show``
shows them. The secret is never printed.
"""

import json
import logging
import sys
import time
import uuid

from heat_esi.demo import heat as demo_heat   # before any heat import

from oslo_config import cfg

from heat_esi import actions
from heat_esi.cmd import worker as worker_cmd
from heat_esi import conf
from heat_esi.demo import network as demo_network
from heat_esi import etcd
from heat_esi import keys
from heat_esi import logs
from heat_esi import records
from heat_esi import template_mappings
from heat_esi import templates
from heat_esi.worker import service

PROJECT = 'secret-test-project'
ESI_TYPE = 'secret_test'
# A job template as a type with a secret would have (vpn_interface's md5).
TEMPLATE = {
    'handler': 'heat_worker', 'id': ESI_TYPE, 'watch': [],
    'parameter_mappings': {'name': {'field': 'name'},
                           'md5': {'secret': 'bgp_md5'}},
    'template_file': '''heat_template_version: 2018-08-31
parameters:
  name: {type: string}
  md5:
    type: string
    hidden: true
resources:
  session:
    type: OS::Heat::None
    properties:
      name: {get_param: name}
      md5: {get_param: md5}
outputs:
  name:
    value: {get_param: name}
'''}


def main(url, directory, secret):
    client = etcd.Etcd.from_url(url)
    heat = demo_heat.InProcessHeat(directory, client, PROJECT).start()
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    # oslo.log's defaults quiet keystoneauth; its debug dump of each
    # request (the stack's parameters in the body) is what must be masked.
    logging.getLogger('keystoneauth').setLevel(logging.DEBUG)
    logs.install(root)
    template_mappings.TEMPLATE_MAPPINGS[template_mappings.HEAT_WORKER][
        ESI_TYPE] = 'C%s' % ESI_TYPE
    templates.store(client, {ESI_TYPE: templates.validate(ESI_TYPE,
                                                          TEMPLATE)})
    wconf = cfg.ConfigOpts()
    conf.register_worker_opts(wconf)
    wconf([], project='heat-esi')
    demo_network.configure_worker(wconf, heat.endpoint, poll_interval=0.2)
    handlers = worker_cmd.load_handlers(['heat_worker'], client, wconf, {})
    worker = service.Worker(client, handlers, shutdown_grace=5)
    worker.start()
    try:
        rid = str(uuid.uuid4())
        body = {'id': rid, 'name': 'peer-%s' % rid[:8], 'bgp_md5': secret,
                'tenant_id': PROJECT}
        actions.write(client, actions.stored_template(client, ESI_TYPE, body),
                      ESI_TYPE, rid, None, records.CREATE, body, 1,
                      [etcd.absent(keys.config(ESI_TYPE, rid))])
        state = None
        deadline = time.monotonic() + 120
        while state is None and time.monotonic() < deadline:
            kv = client.get(keys.state(ESI_TYPE, rid))
            state = json.loads(kv.value) if kv else None
            if state is None:
                time.sleep(0.1)
        from heatclient import client as heat_client
        api = heat_client.Client('1', endpoint=heat.endpoint, token='test')
        stack = api.stacks.get('%s_%s' % (ESI_TYPE, rid))
        print(json.dumps({'rid': rid, 'state': state,
                          'parameters': stack.parameters,
                          'stack_status': stack.stack_status}))
    finally:
        worker.stop()
        heat.stop()


if __name__ == '__main__':
    main(*sys.argv[1:4])
