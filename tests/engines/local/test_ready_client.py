"""The runner's kernel client: ready after one round trip, and nothing the kernel prints
after that is lost (IOPub is connected when `wait_for_ready` returns)."""

import asyncio

from jupyter_client.manager import AsyncKernelManager

from liminal_jupyter.engines.local.ready_client import ReadyClient

CLIENT = "liminal_jupyter.engines.local.ready_client.ReadyClient"


def test_every_new_client_on_a_running_kernel_sees_the_output_of_its_first_cell(tmp_path):
    async def scenario() -> list[str]:
        manager = AsyncKernelManager(kernel_name="python3", transport="ipc",
                                     ip=str(tmp_path / "kernel"), client_class=CLIENT)
        await manager.start_kernel(cwd=str(tmp_path))
        seen = []
        try:
            for number in range(15):
                client = manager.client()
                assert isinstance(client, ReadyClient)
                client.start_channels()
                try:
                    await client.wait_for_ready(timeout=60)
                    printed = []

                    def collect(message, printed=printed):
                        if message["msg_type"] == "stream":
                            printed.append(message["content"]["text"])

                    # Waits for this request's idle status on IOPub: a client whose IOPub
                    # was not connected yet would miss it and time out here.
                    reply = await client.execute_interactive(
                        f"print({number})", timeout=30, output_hook=collect)
                    assert reply["content"]["status"] == "ok"
                    seen.append("".join(printed).strip())
                finally:
                    client.stop_channels()
        finally:
            await manager.shutdown_kernel(now=True)
        return seen

    assert asyncio.run(scenario()) == [str(n) for n in range(15)]


def test_a_dead_kernel_is_reported_not_waited_for_forever(tmp_path):
    async def scenario() -> str:
        manager = AsyncKernelManager(kernel_name="python3", transport="ipc",
                                     ip=str(tmp_path / "kernel"), client_class=CLIENT)
        await manager.start_kernel(cwd=str(tmp_path))
        await manager.shutdown_kernel(now=True)
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=20)
        except RuntimeError as error:
            return str(error)
        finally:
            client.stop_channels()
        return "ready"

    assert "died" in asyncio.run(scenario())
