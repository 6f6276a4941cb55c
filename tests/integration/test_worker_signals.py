"""esi-worker's signals, on a real process: SIGHUP reloads, SIGTERM stops.

The worker re-reads its configuration files on SIGHUP; ``debug``, a
mutable option, turns DEBUG lines on in its log without a restart. Each
step waits for what the worker logs, with a deadline, never for a fixed
time.
"""

import signal

from tests import esi_fixtures


def test_sighup_after_editing_the_config_turns_debug_logging_on(
        tmp_path, etcd_server):
    worker = esi_fixtures.WorkerProcess(
        str(tmp_path), etcd_server.port, debug=False, claim_ttl=5,
        sections={'monitor': {'enabled': 'false'}})
    try:
        worker.start()
        assert ' DEBUG ' not in worker.log()
        with open(worker.conf) as f:
            text = f.read()
        assert 'debug = false' in text
        with open(worker.conf, 'w') as f:
            f.write(text.replace('debug = false', 'debug = true'))
        worker.signal(signal.SIGHUP)
        worker.wait_for_log('configuration reloaded: debug is on')
        worker.wait_for_log('debug logging is on')
        lines = [line for line in worker.log().splitlines()
                 if 'debug logging is on' in line]
        assert ' DEBUG ' in lines[0]
        # Still running: SIGHUP is no stop.
        assert worker.proc.poll() is None

        # And back off again.
        with open(worker.conf, 'w') as f:
            f.write(text)
        worker.signal(signal.SIGHUP)
        worker.wait_for_log('configuration reloaded: debug is off')
        assert worker.proc.poll() is None

        worker.signal(signal.SIGTERM)
        assert worker.proc.wait(30) == 0
        assert 'esi-worker stopped' in worker.log()
    finally:
        worker.stop()


def test_a_sighup_with_a_broken_config_file_keeps_the_worker_running(
        tmp_path, etcd_server):
    worker = esi_fixtures.WorkerProcess(
        str(tmp_path), etcd_server.port, debug=False, claim_ttl=5,
        sections={'monitor': {'enabled': 'false'}})
    try:
        worker.start()
        with open(worker.conf, 'a') as f:
            f.write('[DEFAULT\npassword s3cret-line\n')
        worker.signal(signal.SIGHUP)
        worker.wait_for_log('SIGHUP: configuration not reloaded, the '
                            'running one stays: ConfigFileParseError in %s'
                            % worker.conf)
        worker.signal(signal.SIGHUP)
        # The second SIGHUP is handled too: the first did not wedge it.
        esi_fixtures.wait_until(
            lambda: worker.log().count(
                'SIGHUP: re-reading the configuration files') == 2,
            message='the second reload')
        assert worker.proc.poll() is None
        assert ' DEBUG ' not in worker.log()
        # What the broken file says is not copied to the log.
        assert 's3cret' not in worker.log()
    finally:
        worker.stop()
