"""The run console and the live run on the graph. Widgets only: they show the events they are given and
emit signals; the owner (the IDE) runs the org with orgruntime.run and wires the two together.

RunConsole(parent=None)
  Signals (what the user asked for):
    run_requested(task: str, model: str)     Run pressed; model is "" for the org's own models
    stop_requested()  pause_requested()  resume_requested()  step_requested()
    human_answered(question_id: str, text: str)   the reply box; "" means nobody answers
    replay_requested(run_id: str)            open a past run (History tab)
    compare_requested(first_run_id: str, second_run_id: str)
  Methods (what the owner tells it):
    feed(event)              every event of the live run, tokens included (coalesced: cheap per call)
    set_running(bool)        a run started / ended: enables Run or Stop, Pause/Resume, Step
    set_budget(dict)         the run's limits, as run.json "budget" (bars appear for the set ones)
    set_history(infos)       orgruntime.run.list_runs(runs_dir)
    show_replay(events, info=None)    a past run's events (load_events(run_dir).events) and run.json
    show_live()              back from a replay to the live run
    show_comparison((info, events), (info, events))
    set_models(models)       the model override's choices
    set_placement(info)      the live run's run.json ("executor", "placement"): completes the "On Ray: ..." line
    executor_picker          ExecutorPicker: the executor and Ray address of the next run (Run is disabled
                             while its address is wrong); the owner calls set_address_check(check),
                             set_available("ray", False, why), set_choice(executor, address), and reads
                             .executor / .address_text; changed(executor, address) on every edit
  Where agents ran: AgentPlaced events (live) and run.json "placement" (replays) show under the status,
  e.g. "On Ray: host:1a2b3c4d — ceo, engineer"; local runs show nothing. The History tab has an executor column.

RunOverlay(editor: GraphEditor, *, keep_after_finish=False)
  feed(event): agents thinking / queued / waiting for a person / done / failed, a dot along the channel
  a message travels, spend per agent and "on host:node" (AgentPlaced) under its node; clear() (also done
  when the run finishes, except the nodes' "ran on host:node" tooltips, kept until the next run).

Wiring, in the composition root (qasync loop):

    desk = HumanDesk()
    stream = Runner(RunConfig(model=model or None, human=desk, trusted=trusted)).stream(
        org, task, runs_dir=runs, provenance=provenance, org_dir=folder)
    console.stop_requested.connect(stream.stop)
    console.pause_requested.connect(stream.pause)
    console.resume_requested.connect(stream.resume)
    console.step_requested.connect(stream.step)
    console.human_answered.connect(desk.respond)
    console.set_running(True)
    async for event in stream:
        if isinstance(event, RunStarted): console.set_budget(read_info(stream.run_dir)["budget"])
        console.feed(event); overlay.feed(event)
    console.set_running(False); console.set_history(list_runs(runs))
"""

from widgets.run_console._cards import Card, CardKind, TranscriptFold
from widgets.run_console._comparison import RunComparison
from widgets.run_console._console import RunConsole
from widgets.run_console._executor_picker import ExecutorPicker
from widgets.run_console._placement import Placement
from widgets.run_console._run_overlay import RunOverlay
from widgets.run_console._totals import RunTotals
from widgets.run_console._transcript_model import TranscriptModel
from widgets.run_console._transcript_view import TranscriptView

__all__ = [
    "Card",
    "CardKind",
    "ExecutorPicker",
    "Placement",
    "RunComparison",
    "RunConsole",
    "RunOverlay",
    "RunTotals",
    "TranscriptFold",
    "TranscriptModel",
    "TranscriptView",
]
