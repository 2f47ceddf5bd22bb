"""``python tests/kill_at.py [--signal NAME] HOOK STEP [zoo.train arguments]``: the real training command,
sent SIGKILL (or signal NAME, e.g. SIGINT) by itself the first time Lightning calls callback hook HOOK
at global step STEP (outside the sanity check). HOOK ``after_checkpoints:on_train_epoch_end`` is called
after the checkpoint callbacks' (Lightning calls those last): between the epoch-end checkpoint and the
epoch's training metrics being logged.

A timed kill lands wherever the clock says; this one lands exactly where a test wants it, such as
after an epoch's last batch but before its validation."""

import os
import signal
import sys

import lightning as L

import zoo.train


def main() -> int:
    args = sys.argv[1:]
    sig = signal.SIGKILL
    if args[0] == "--signal":
        sig, args = signal.Signals[args[1]], args[2:]
    hook, step, argv = args[0], int(args[1]), args[2:]
    sent = []

    def kill(self, trainer, *args):
        if trainer.global_step == step and not trainer.sanity_checking and not sent:
            sent.append(sig)
            os.kill(os.getpid(), sig)

    # (zoo.fit attaches it after zoo's own callbacks: their saves for this hook are done)
    base = L.Callback
    if hook.startswith("after_checkpoints:"):
        from lightning.pytorch.callbacks import Checkpoint

        base, hook = Checkpoint, hook.split(":", 1)[1]
    killer = type("KillAt", (base,), {hook: kill})()
    return zoo.train.main(argv, callbacks=[killer])


if __name__ == "__main__":
    sys.exit(main())
