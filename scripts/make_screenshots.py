"""Write SVG screenshots of sigchat-server's app with sample data.

``make screenshots`` runs this; the files go to ``screenshots/`` and the
README shows them. The data is ``sigchat.tui.demo``'s sample session (the snapshot
tests use the same one): made up but shaped like real transfers, with the
clocks, PID and time zone fixed, so the output only changes when the app or
the session does. Never edit the SVGs by hand: change the app and run this again.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

from sigchat.tui import demo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "screenshots"


async def shoot() -> list[str]:
    OUT.mkdir(exist_ok=True)
    written = []

    async def run(name: str, setup) -> None:
        app = demo.make_app()
        async with app.run_test(size=demo.SIZE) as pilot:
            await setup(app, pilot)
            await pilot.pause()
            app._tick()
            await pilot.pause()
            written.append(app.save_screenshot(f"{name}.svg", path=str(OUT)))

    async def main_view(app, pilot):
        demo.sample_session(app)
        demo.failed_transfers(app)
        await demo.start_in_flight(app, pilot)  # 4250 is sending 10 KB right now; 4311 waits its turn

    async def inspector(app, pilot):
        demo.sample_session(app)
        await pilot.pause()
        app.log_view.highlighted = 3
        await pilot.press("enter")
        await pilot.pause()

    async def empty(app, pilot):
        await pilot.pause()

    await run("server", main_view)
    await run("inspector", inspector)
    await run("empty", empty)
    return written


def main() -> int:
    for path in asyncio.run(shoot()):
        print(os.path.relpath(path, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
