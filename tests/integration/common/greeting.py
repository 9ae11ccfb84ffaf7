"""A one-activity workflow for the runtime check.

Apart from the test module on purpose: the workflow sandbox re-imports a workflow's module, and
re-importing C extensions such as asyncpg inside it crashes the interpreter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow


@dataclass
class Greeting:
    name: str


@activity.defn
async def compose_greeting(greeting: Greeting) -> str:
    return f"Hello, {greeting.name}!"


@workflow.defn
class GreetingWorkflow:
    @workflow.run
    async def run(self, greeting: Greeting) -> str:
        return await workflow.execute_activity(
            compose_greeting, greeting, start_to_close_timeout=timedelta(seconds=10)
        )
