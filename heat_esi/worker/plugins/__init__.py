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

"""Resource plugins: each checks one kind of template element."""

import math

from heat_esi import exceptions


def seconds(props, name, default):
    """The element property *name*, a finite number of seconds >= 0.

    :raises JobFailed: naming the property and the value.
    """
    value = props.get(name, default)
    try:
        if isinstance(value, bool):
            raise ValueError()
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ValueError()
    except (TypeError, ValueError):
        raise exceptions.JobFailed('"%s" must be a number of seconds, not %s'
                                   % (name, exceptions.short(value)))
    return value
