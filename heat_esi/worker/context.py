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

"""The logging context of a job: Heat's request id on every line.

A slot thread enters the context of the job it takes, so that oslo.log
prints the request id of the Heat call that wrote the job (the job's
"request_id" field) on every line logged for it, as heat-api and
heat-engine print it for the same call, and the JSON formatter adds the job
id and the resource as fields.
"""

from oslo_context import context


class JobContext(context.RequestContext):
    """A RequestContext for one job.

    oslo.log reads the thread's current one for every line it writes.
    """

    def __init__(self, job_id, resource_type, resource_id, request_id=None):
        # Heat's id is the global one for this call chain; without it (a
        # job not written by Heat) the job gets an id of its own.
        super(JobContext, self).__init__(
            request_id=request_id or context.generate_request_id(),
            global_request_id=request_id, resource_uuid=resource_id,
            overwrite=True)
        self.job_id = job_id
        self.resource_type = resource_type
        self.resource_id = resource_id

    def get_logging_values(self):
        values = super(JobContext, self).get_logging_values()
        values.update(job_id=self.job_id, resource_type=self.resource_type,
                      resource_id=self.resource_id)
        return values


def enter(job_id, job):
    """Make *job* the current thread's logging context."""
    return JobContext(job_id, job.get('resource_type'),
                      job.get('resource_id'), job.get('request_id'))


def leave():
    """Log without a job's context again."""
    # oslo.context has no public call for this; its own store is a
    # thread-local that get_current() reads.
    context._request_store.context = None
