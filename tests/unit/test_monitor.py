"""Who polls which device: rendezvous hashing over the live members."""

from heat_esi.worker import monitor

IDS = ['router-%d' % i for i in range(300)]


def test_each_device_has_one_owner_and_the_load_is_shared():
    members = ['a', 'b', 'c']
    owners = [monitor.owner(rid, members) for rid in IDS]
    assert owners == [monitor.owner(rid, list(reversed(members)))
                      for rid in IDS]
    for member in members:
        assert 60 < owners.count(member) < 140


def test_a_dead_members_devices_move_and_no_others_do():
    before = {rid: monitor.owner(rid, ['a', 'b', 'c']) for rid in IDS}
    after = {rid: monitor.owner(rid, ['a', 'c']) for rid in IDS}
    moved = {rid for rid in IDS if before[rid] != after[rid]}
    assert moved == {rid for rid in IDS if before[rid] == 'b'}
