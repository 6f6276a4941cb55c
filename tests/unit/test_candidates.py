"""The fair queue of a worker's candidates (heat_esi.worker.candidates)."""

from heat_esi.worker import candidates

UNKNOWN = candidates.UNKNOWN


def fill(queue, project, count, start=0):
    ids = ['%s-%d' % (project, i) for i in range(start, start + count)]
    for job_id in ids:
        queue.add(job_id, None, project)
    return ids


def take_all(queue, done=True):
    """Take until nothing is left; [project of each], in order."""
    order = []
    while True:
        taken = queue.take()
        if taken is None:
            return order
        order.append(taken[2])
        if done:
            queue.done(taken[2])


def test_a_newcomer_goes_before_a_backlog_already_served():
    queue = candidates.Candidates()
    fill(queue, 'a', 80)
    running = [queue.take() for _ in range(8)]
    assert {t[2] for t in running} == {'a'}
    queue.add('b-0', None, 'b')
    # The next free slot is b's, not the 73 others of a's.
    queue.done('a')
    assert queue.take()[:3] == ('b-0', None, 'b')


def test_slots_alternate_between_projects_with_backlogs():
    queue = candidates.Candidates()
    fill(queue, 'a', 6)
    fill(queue, 'b', 3)
    # Held jobs (done=False): the fewest running goes first.
    assert take_all(queue, done=False) == ['a', 'b', 'a', 'b', 'a', 'b',
                                           'a', 'a', 'a']


def test_jobs_without_a_project_share_one_queue():
    queue = candidates.Candidates()
    queue.add('x', None, None)
    queue.add('y', None, None)
    fill(queue, 'a', 2)
    assert sorted(take_all(queue, done=False), key=str) == [
        None, None, 'a', 'a']
    assert queue.running[None] == 2


def test_a_project_at_its_limit_waits_others_go_on():
    queue = candidates.Candidates(max_per_project=2)
    fill(queue, 'a', 5)
    assert take_all(queue, done=False) == ['a', 'a']
    assert not queue.ready()
    queue.add('b-0', None, 'b')
    assert queue.ready()
    assert queue.take()[2] == 'b'
    queue.done('a')
    assert queue.take()[2] == 'a'
    assert queue.take() is None
    assert len(queue) == 2


def test_each_queue_drains_oldest_first_within_its_window():
    queue = candidates.Candidates()
    ids = fill(queue, 'a', candidates.TAKE_AMONG + 10)
    first = queue.take()[0]
    assert first in ids[:candidates.TAKE_AMONG]


def test_a_value_is_kept_and_updated():
    queue = candidates.Candidates()
    queue.add('j', 'kv1', 'a')
    queue.add('j', None, UNKNOWN)      # a freed claim: stays as it was
    queue.add('j', 'kv2', 'a')
    assert len(queue) == 1
    assert queue.take() == ('j', 'kv2', 'a')


def test_unread_candidates_are_read_then_placed():
    queue = candidates.Candidates()
    queue.add('j1')
    queue.add('j2')
    queue.add('j3')
    assert not queue.ready()
    assert queue.unread(2) == ['j1', 'j2']
    assert queue.unread(5) == ['j3']
    assert queue.unread(5) == []
    assert len(queue) == 3
    queue.place('j1', 'a', 'kv1')
    queue.place('j2', None)
    # Discarded while being read (claimed elsewhere): not placed.
    queue.discard('j3')
    queue.place('j3', 'a', 'kv3')
    assert len(queue) == 2
    assert sorted(take_all(queue), key=str) == [None, 'a']


def test_a_candidate_that_could_not_be_read_is_unread_again():
    queue = candidates.Candidates()
    queue.add('j1')
    queue.unread(1)
    queue.add('j1')                     # an event meanwhile: no double
    queue.place('j1', UNKNOWN)
    assert queue.unread(5) == ['j1']


def test_clear_keeps_the_running_counts():
    queue = candidates.Candidates(max_per_project=1)
    fill(queue, 'a', 3)
    queue.add('u')
    queue.take()
    queue.clear()
    assert len(queue) == 0
    fill(queue, 'a', 1, start=9)
    assert not queue.ready()            # a's one job still runs
    queue.done('a')
    assert queue.take()[0] == 'a-9'


def test_projects_are_forgotten_when_idle():
    queue = candidates.Candidates()
    for i in range(100):
        fill(queue, 'p%d' % i, 2)
    take_all(queue)
    assert len(queue) == 0
    assert dict(queue.running) == {}
    assert queue._served == {} and queue._queues == {}


def test_kept_counts_the_values_held():
    queue = candidates.Candidates()
    queue.add('a', 'kv', 'p')
    queue.add('b', None, 'p')
    queue.add('b', 'kv', 'p')           # read since: its value is kept
    queue.add('c', 'kv', 'q')
    queue.add('u')
    assert queue.kept == 3
    queue.discard('c')
    assert queue.kept == 2
    queue.unread(1)
    queue.place('u', 'q', 'kv')
    assert queue.kept == 3
    take_all(queue)
    assert queue.kept == 0 and len(queue) == 0
    queue.add('d', 'kv', 'p')
    queue.clear()
    assert queue.kept == 0
