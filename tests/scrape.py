"""Reading an esi-worker's HTTP server: /metrics, /healthz, /readyz."""

from prometheus_client import parser
import requests


def get(port, path='/metrics'):
    """GET *path* of the HTTP server of the esi-worker on *port*."""
    return requests.get('http://127.0.0.1:%d%s' % (port, path), timeout=5)


def families(port):
    """Return {name: family} of the /metrics of the esi-worker on *port*."""
    resp = get(port)
    assert resp.status_code == 200
    assert resp.headers['Content-Type'].startswith('text/plain')
    return {f.name: f for f in parser.text_string_to_metric_families(
        resp.text)}


def value(found, sample_name, **labels):
    """Sum the samples named *sample_name* whose labels include *labels*.

    *found* is what families() returned. The sum is 0 when there is no
    such sample.
    """
    name = sample_name
    for suffix in ('_total', '_count', '_sum', '_bucket'):
        if name.endswith(suffix):
            name = name[:-len(suffix)]
            break
    family = found.get(name)
    if family is None:
        return 0
    wanted = labels.items()
    return sum(s.value for s in family.samples if s.name == sample_name
               if all(s.labels.get(k) == v for k, v in wanted))
