"""The lab's pinger: its log read back (no cluster needed)."""

from pathlib import Path

from tests.lab.pinger import summary


def test_lost_requests_and_the_first_answer_after_an_event(tmp_path: Path):
    log = tmp_path / "ping.log"
    log.write_text(
        "S 1 10.0\nR 1 10.001\n"
        "S 2 10.1\n"  # lost
        "S 3 10.2\nR 2 10.25\n"  # 2 answered late: not lost
        "S 4 10.3\n"  # lost
        "S 5 10.4\nR 5 10.402\nR 3 10.5\n"
        "S 6 10.5"  # cut by the kill
    )

    found = summary(str(log), 10.0, 10.45, since=10.3)

    assert (found.sent, found.answered, found.lost) == (5, 4, [10.3])
    assert found.first_answer == 10.402
    # 3 was answered 0.3 s late: not late enough to count; none other was.
    assert found.late == []
    assert summary(str(log), 10.0, 10.45, since=10.3)._replace(late=[]) == found


def test_answers_held_up_are_late(tmp_path: Path):
    log = tmp_path / "ping.log"
    log.write_text("S 1 10.0\nS 2 10.1\nS 3 10.2\nR 1 13.0\nR 2 13.0\nR 3 10.201\n")
    found = summary(str(log), 10.0, 11.0)
    assert (found.lost, found.late) == ([], [10.0, 10.1])
