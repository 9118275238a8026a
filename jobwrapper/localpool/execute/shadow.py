"""The per-job supervisor: schedd, shadow and starter of one job in one process.

condor_submit starts it detached (own session, no terminal, stdio on /dev/null),
running as the submitting user. It keeps the job idle for the pool's idle delay and
until the slot has room, then sets up the scratch dir, transfers input, writes the
ads, runs the job in its own session and waits. SIGTERM from condor_rm starts a
vacate: SIGTERM to the job's main process (not to its process group, as a real
starter), SIGKILL to all of the job after the grace (MachineMaxVacateTime). Output is
transferred back when the job exits by itself (on removal only with
ON_EXIT_OR_EVICT). Then the record lingers briefly and moves to history/.
If the record dir disappears (pool dir cleaned up) it kills the job and exits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

from jobwrapper.localpool.ads.classads import Ad, from_json
from jobwrapper.localpool.ads.expressions import is_true
from jobwrapper.localpool.ads.jobad import Slot, running_updates, schedd_address
from jobwrapper.localpool.ads.jobspec import JobSpec
from jobwrapper.localpool.config import PoolConfig, PoolLayout, write_json_atomic
from jobwrapper.localpool.execute import claims, negotiator, sessions, slots, starter, userlog
from jobwrapper.localpool.execute.processes import (
    ProcessTable,
    become_subreaper,
    kill_all,
    reap_children,
    signal_main,
    tree_memory_mb,
)
from jobwrapper.localpool.execute.transfer import InputTransferError
from jobwrapper.localpool.records import (
    ShadowInfo,
    process_start_time,
    read_json,
    write_ad,
    write_shadow,
)
from jobwrapper.signalflag import SignalFlag

POLL = 0.05
EDITS_INTERVAL = 0.5
FULL_SLOT_POLL = 0.5
REMOVED_BY_FILE = "removed_by"


def input_failure_reason(error: InputTransferError, access_point: str,
                         slot: str) -> tuple[str, int, int]:
    """The hold reason, code and subcode of a failed input transfer, as HTCondor 25.0's."""
    path, first = error.failures[0]
    errno = first.errno or 0
    reason = (f"Transfer input files failure at access point {access_point} while sending "
              f"files to execution point {slot}. Details: {len(error.failures)} total "
              f"failures: first failure: reading from file {path}: (errno {errno}) "
              f"{first.strerror}")
    return reason, 13, errno


class Shadow:
    """State of one job's supervision; `run()` is the whole life of the job."""

    def __init__(self, layout: PoolLayout, config: PoolConfig, cluster: int) -> None:
        self.layout, self.config, self.cluster = layout, config, cluster
        self.record = layout.record(cluster)
        self.spec = JobSpec.from_dict(read_json(self.record / "spec.json"))
        self.ad: Ad = from_json(read_json(self.record / "ad.json"))
        self.info = ShadowInfo(pid=os.getpid(), pid_start=process_start_time(os.getpid()))
        self.remove = SignalFlag()  # set by signal handlers: no threading.Event
        self.removal_requested = False
        self.hard_kill = False
        self.created = time.time()
        self.address = schedd_address(config.host(), os.getpid())
        self.log = self.spec.user_log
        self.next_memory_check = 0.0
        self.edits_offset = 0  # condor_qedit's edits taken so far (take_edits)
        self.schedd_only: dict[str, object] = {}  # plain condor_qedit: not forwarded
        self.slot: Slot | None = None  # the dynamic slot, once claimed

    # -- signals and record updates -------------------------------------------------
    def install_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_remove)
        signal.signal(signal.SIGINT, self._on_remove)
        signal.signal(signal.SIGUSR1, self._on_shutdown)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        # A child's exit wakes the supervision loop, which otherwise sleeps until its
        # next look at edits and policies: no polling for the job's exit.
        signal.signal(signal.SIGCHLD, lambda *_: self.remove.wake())

    def _on_remove(self, *_: object) -> None:
        self.removal_requested = True
        self.remove.set()

    def _on_shutdown(self, *_: object) -> None:
        self.hard_kill = True
        self._on_remove()

    def update(self, **attributes: object) -> None:
        self.ad.update(attributes)
        if self.record.is_dir():
            write_ad(self.record, {**self.ad, **self.schedd_only})

    def take_edits(self) -> None:
        """condor_qedit's edits: plain ones only for the schedd's copy (condor_q), those
        with -forward also for this shadow (periodic_remove) and condor_chirp."""
        from jobwrapper.localpool.commands import qedit

        edits, self.edits_offset = qedit.read_edits(self.record, self.edits_offset)
        if not edits:
            return
        forwarded = {}
        for edit in edits:
            if edit.get("forward"):
                self.schedd_only.pop(edit["name"], None)
                forwarded[edit["name"]] = edit.get("value")
            else:
                self.schedd_only[edit["name"]] = edit.get("value")
        if forwarded:
            try:
                known = read_json(self.record / qedit.FORWARDED_FILE)
            except (OSError, ValueError):
                known = {}
            write_json_atomic(self.record / qedit.FORWARDED_FILE, {**known, **forwarded},
                              mode=0o644)
        self.update(**forwarded)

    def release_slot(self, **attributes: object) -> None:
        """The job left its slot: RemoteHost becomes LastRemoteHost, as in a schedd.
        With `+KeepClaimIdle = N` the slot stays claimed for the owner's next job for N
        seconds, unless the job was held or the pool shuts down (claims.py)."""
        keep = self.ad.get("KeepClaimIdle")
        held = attributes.get("JobStatus", self.ad.get("JobStatus")) == 5
        keep = keep if isinstance(keep, (int, float)) and not isinstance(keep, bool) else 0
        if self.slot is not None and keep > 0 and not held and not self.hard_kill:
            claims.keep(self.layout, self.slot, float(keep))
        if "RemoteHost" in self.ad:
            self.ad["LastRemoteHost"] = self.ad.pop("RemoteHost")
        self.update(CurrentHosts=0, **attributes)
        slots.released(self.layout)

    def record_gone(self) -> bool:
        return not (self.record / "ad.json").exists()

    def removed_reason(self) -> str:
        try:
            who = (self.record / REMOVED_BY_FILE).read_text().strip()
        except OSError:
            who = ""
        return f"via condor_rm (by user {who})" if who else "via condor_rm"

    # -- the job's life -------------------------------------------------------------
    def run(self) -> None:
        write_shadow(self.record, self.info)
        userlog.submitted(self.log, self.cluster, self.address)
        slot = self.wait_idle()
        if slot is None:
            self.finish_removed(started=False)
            return
        session = self.start(slot)
        if session is None:
            self.wait_for_removal()
            return
        self.supervise(session)

    def wait_idle(self) -> Slot | None:
        """Idle until a negotiation cycle matched the job, the idle delay passed and the
        slot has room; None if removed."""
        ready_at = None
        claimer = slots.Claimer(self.layout, self.config, self.spec)
        while not self.remove.is_set():
            if self.record_gone():
                os._exit(0)
            if ready_at is None and claimer.kept_claim():  # no negotiation cycle
                ready_at = time.time() + self.config.idle_delay
            if ready_at is None:
                matched = negotiator.matched_at(self.layout, self.config, self.created)
                ready_at = None if matched is None else matched + self.config.idle_delay
            if ready_at is not None and time.time() >= ready_at and claimer.worth_trying():
                slot = claimer.claim(self.mark_running)
                if slot is not None:
                    return slot
            # behind a full slot a release is waited for, and a job starts in a
            # negotiation cycle on a real pool anyway: a look every 0.5 s is enough
            self.remove.wait(FULL_SLOT_POLL if claimer.failed else POLL * 2)
        return None

    def mark_running(self, slot: Slot) -> None:
        """Called under the slot lock: the job holds its share of the slot from now on."""
        self.slot = slot
        self.started = int(time.time())
        self.update(**running_updates(slot, self.started, self.address))

    def start(self, slot: Slot) -> int | None:
        """Set up and launch the job; its session id, or None when it was held instead."""
        try:
            self.job = starter.prepare(
                self.layout, self.spec, self.ad, slot, self.info, self.started
            )
            write_shadow(self.record, self.info)
            starter.save_environment(self.record, self.job)
            userlog.executing(self.log, self.cluster, self.address, slot.name)
            self.process = starter.launch(self.job, self.config)
        except InputTransferError as error:
            self.hold_at_start(*input_failure_reason(error, self.config.host(), slot.name))
            return None
        except OSError as error:
            arguments = " ".join(self.spec.arguments)
            reason = (f"Error from {slot.name}: Failed to execute '{self.spec.executable}'"
                      f"{' with arguments ' + arguments if arguments else ''}: "
                      f"(errno={error.errno}: '{error.strerror}')")
            self.hold_at_start(reason, 6, error.errno or 0)
            return None
        self.info.started_at = time.time()
        self.info.netns_pid = self.job.netns_pid
        write_shadow(self.record, self.info)
        return self.process.pid

    def hold_at_start(self, reason: str, code: int, subcode: int) -> None:
        """The job could not start: held, with HTCondor's reason and codes."""
        self.release_slot(JobStatus=5, LastJobStatus=2, HoldReason=reason, HoldReasonCode=code,
                          HoldReasonSubCode=subcode, EnteredCurrentStatus=int(time.time()))
        userlog.held(self.log, self.cluster, reason)

    def supervise(self, session: int) -> None:
        """Wait for the job to exit, for condor_rm, or for periodic_remove. The loop sleeps
        until its next look at edits or policies; SIGCHLD and condor_rm's SIGTERM wake it
        (with 1,000 running jobs, polling for the exit 20 times a second cost the pool
        a CPU)."""
        next_check = next_edits = 0.0
        while True:
            status = self.reaped_status()
            if status is not None:
                self.after_main_exit(session, status)
                return
            if self.remove.is_set():
                self.vacate(session, removed=True, reason=self.removed_reason())
                return
            now = time.time()
            if now >= next_edits:  # condor_qedit -forward reaches a shadow within 1 s
                next_edits = now + EDITS_INTERVAL
                self.take_edits()
            if now >= next_check:
                next_check = now + self.config.periodic_interval
                if self.record_gone():
                    self.kill_everything(session)
                    os._exit(0)
                if self.check_policies(session, now):
                    return
            self.remove.wait(max(0.0, min(next_edits, next_check) - time.time()))

    def reaped_status(self) -> int | None:
        for pid, status in reap_children():
            if pid == self.process.pid:
                self.process.returncode = 0
                return status
        return None

    def check_policies(self, session: int, now: float) -> bool:
        """The memory limit, periodic_remove and allowed_execute_duration; True when the
        job was stopped."""
        if self.config.memory_limit and now >= self.next_memory_check:
            self.next_memory_check = now + self.config.memory_poll_interval
            if self.over_memory(session):
                return True
        reason = self.periodic_remove_reason(now)
        if reason:
            self.vacate(session, removed=True, reason=reason)
            return True
        limit = self.spec.allowed_execute_duration
        if limit and now - float(self.ad["JobCurrentStartDate"]) > limit:
            reason = f"The job exceeded allowed execute duration of {limit} seconds"
            self.vacate(session, removed=False, reason=reason)
            self.wait_for_removal()
            return True
        return False

    def periodic_remove_reason(self, now: float) -> str:
        """The RemoveReason when periodic_remove is true now, as a schedd writes it."""
        if self.spec.periodic_remove and is_true(self.spec.periodic_remove, self.ad, now):
            return (f"The job attribute PeriodicRemove expression "
                    f"'{self.spec.periodic_remove}' evaluated to TRUE")
        return ""

    def over_memory(self, session: int) -> bool:
        """Over the slot's memory: killed and held, with HTCondor 25's cgroup OOM message,
        HoldReasonCode 34 (JobOutOfResources), subcode 102 (Memory). No output comes back."""
        limit = int(self.ad.get("MemoryProvisioned") or self.ad.get("RequestMemory") or 0)
        table = ProcessTable(self.layout.process_table, self.config.memory_poll_interval)
        used = tree_memory_mb(os.getpid(), table) if limit else 0
        if not limit or used <= limit:
            return False
        slot = str(self.ad.get("RemoteHost", ""))
        reason = (f"Error from {slot}: Job has gone over cgroup memory limit of {limit} "
                  f"megabytes. Last measured usage: {used} megabytes.  Consider "
                  "resubmitting with a higher request_memory.")
        self.kill_everything(session)
        reap_children()
        self.release_slot(JobStatus=5, LastJobStatus=2, HoldReason=reason, HoldReasonCode=34,
                          HoldReasonSubCode=102, EnteredCurrentStatus=int(time.time()))
        userlog.held(self.log, self.cluster, reason)
        self.wait_for_removal()
        return True

    # -- endings --------------------------------------------------------------------
    def vacate(self, session: int, removed: bool, reason: str) -> None:
        """SIGTERM, wait up to the grace, SIGKILL; transfer output only after a clean exit."""
        now = int(time.time())
        if removed:
            self.update(JobStatus=3, LastJobStatus=2, EnteredCurrentStatus=now, RemoveReason=reason)
        else:
            self.update(JobStatus=5, LastJobStatus=2, EnteredCurrentStatus=now, HoldReason=reason,
                        HoldReasonCode=47)
        # As a starter does: the soft kill signal goes to the job's main process only;
        # its children are the job's business until the hard kill.
        signal_main(session, signal.SIGTERM)
        deadline = time.time() + (0 if self.hard_kill else self.config.vacate_grace)
        status = None
        while status is None and time.time() < deadline and not self.hard_kill:
            self.remove.clear()
            self.remove.wait(POLL)
            status = self.reaped_status()
        self.kill_everything(session)
        if status is not None and self.spec.when_to_transfer_output == "ON_EXIT_OR_EVICT":
            starter.transfer_back(self.job)
        self.release_slot()
        if removed:
            userlog.aborted(self.log, self.cluster, reason)
            self.leave_queue()
        else:
            userlog.held(self.log, self.cluster, reason)

    def after_main_exit(self, session: int, status: int) -> None:
        """The main process exited: its other processes are killed, but the job stays
        Running (in its slot, output not yet transferred) while a condor_ssh_to_job
        session of it is open, as on HTCondor; condor_rm and periodic_remove still act."""
        kill_all(session, self.job.marker, spare_sessions=True)
        while sessions.open_sessions(self.record):
            if self.record_gone():
                self.kill_everything(session)
                os._exit(0)
            reason = ""
            if self.remove.is_set():
                reason = self.removed_reason()
            else:
                reason = self.periodic_remove_reason(time.time())
            if reason:
                self.removed_after_exit(session, reason)
                return
            self.remove.wait(POLL * 4)
        self.finish_exited(session, status)

    def removed_after_exit(self, session: int, reason: str) -> None:
        """Removed while only sessions kept it: the sessions end (they watch the status),
        the output of the exited job comes back with ON_EXIT_OR_EVICT."""
        self.update(JobStatus=3, LastJobStatus=2, EnteredCurrentStatus=int(time.time()),
                    RemoveReason=reason)
        deadline = time.time() + 5
        while sessions.open_sessions(self.record) and time.time() < deadline:
            time.sleep(POLL)
        self.kill_everything(session)
        if self.spec.when_to_transfer_output == "ON_EXIT_OR_EVICT":
            starter.transfer_back(self.job)
        self.release_slot()
        userlog.aborted(self.log, self.cluster, reason)
        self.leave_queue()

    def kill_everything(self, session: int) -> None:
        """SIGKILL the job's processes and its network namespace holder."""
        kill_all(session, self.job.marker)
        if self.job.netns_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.job.netns_pid, signal.SIGKILL)
            reap_children()

    def finish_exited(self, session: int, status: int) -> None:
        self.kill_everything(session)
        starter.transfer_back(self.job)
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        attributes: dict[str, object] = {"ExitBySignal": signum is not None}
        if signum is not None:
            attributes["ExitSignal"] = signum
        else:
            attributes["ExitCode"] = code
            attributes["ExitStatus"] = code
        self.release_slot(JobStatus=4, LastJobStatus=2, EnteredCurrentStatus=int(time.time()),
                          CompletionDate=int(time.time()), **attributes)
        userlog.terminated(self.log, self.cluster, code, signum)
        self.leave_queue()

    def finish_removed(self, started: bool) -> None:
        reason = self.removed_reason()
        self.update(JobStatus=3, LastJobStatus=self.ad.get("JobStatus", 1),
                    EnteredCurrentStatus=int(time.time()), RemoveReason=reason)
        userlog.aborted(self.log, self.cluster, reason)
        self.leave_queue()

    def wait_for_removal(self) -> None:
        """A held job stays in the queue until condor_rm."""
        while not self.removal_requested:
            self.remove.wait(POLL * 4)
            if self.record_gone():
                return
        self.finish_removed(started=False)

    def leave_queue(self) -> None:
        """Linger with the final status (not on shutdown), then move the record to history/."""
        if not self.hard_kill:
            time.sleep(self.config.leave_queue_delay)
        scratch = self.info.scratch_dir
        target = self.layout.history / str(self.cluster)
        try:
            os.replace(self.record, target)
        except OSError:
            shutil.rmtree(self.record, ignore_errors=True)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def run_shadow(layout: PoolLayout, config: PoolConfig, cluster: int, ready_fd: int) -> None:
    """Body of the detached shadow process; tells condor_submit on `ready_fd` when set up."""
    os.umask(0o022)
    shadow = Shadow(layout, config, cluster)
    shadow.install_handlers()
    become_subreaper()
    write_shadow(shadow.record, shadow.info)
    os.write(ready_fd, b"ok")
    os.close(ready_fd)
    shadow.run()


def detach_stdio(log_path: Path) -> None:
    """Stdio on /dev/null and a private log, so callers' pipes close at once."""
    devnull = os.open(os.devnull, os.O_RDWR)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(log, 2)
    os.close(devnull)
    os.close(log)

