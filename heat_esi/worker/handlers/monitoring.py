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

"""monitoring_worker: a job checks a resource through its heat_template.

The heat_template that the type's template mapping picks (see
heat_esi.template_mappings; ``<type>_monitoring`` for today's types) is
rendered with the job's params into elements, and each element is checked
by its resource plugin, through the element pipeline
(heat_esi.worker.elements) that the monitor's polls go through too. The
result is the element -> state map that the seed calls state_monitoring.

Params of type output_key (an output of a resource's Heat stack, such as a
network's fq_name) are resolved first (heat_esi.worker.params), from the
records the heat_worker wrote.
"""

from heat_esi import exceptions
from heat_esi import keys
from heat_esi import records
from heat_esi.worker import elements
from heat_esi.worker.handlers import base
from heat_esi.worker import params


class MonitoringHandler(base.Handler):
    """The job handler ``monitoring_worker`` (entry points heat_esi.handlers).

    esi-worker builds it with its etcd client, its configuration and the
    resource plugins it loaded once for its handler and its monitor.
    """

    def __init__(self, client, conf, plugins=None):
        super(MonitoringHandler, self).__init__(client, conf, plugins)
        if plugins is None:
            plugins = elements.load_plugins(client, conf)
        self.pipeline = elements.Pipeline(client, plugins)

    def prefetch(self, job):
        """Return the keys to read along with the claim of *job*."""
        if job['action'] in (records.DELETE, records.LOGICAL_DELETE):
            return ()
        return self.pipeline.prefetch(job) + params.prefetch_keys(job)

    def run(self, claim, clock):
        """Return the Result of the claimed job."""
        job = claim.job
        esi_type, rid = job['resource_type'], job['resource_id']
        if job['action'] in (records.DELETE, records.LOGICAL_DELETE):
            # Nothing to check on a resource that goes away; its monitoring
            # record goes with the job.
            return base.Result(deletes=(keys.monitoring(esi_type, rid),))
        try:
            resolved = params.resolved_job(self.client, job,
                                           claim.prefetched)
        except (exceptions.JobFailed, exceptions.MalformedValue) as exc:
            raise exceptions.JobFailed('%s %s: %s' % (esi_type, rid, exc))
        found = self.pipeline.for_job(resolved, claim.prefetched)
        results = self.pipeline.check(found, clock, claim.prefetched)
        claim.put_job_state(records.job_state(results))
        # This check is newer than the monitor's last poll: readers fall
        # back to /state until the monitor writes /monitoring again.
        return base.Result(state_monitoring=results,
                           deletes=(keys.monitoring(esi_type, rid),))
