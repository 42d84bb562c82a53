"""A fast HTTP/1.1 keep-alive receiver for benchmarks (asyncio, loopback only).

Runs in its own process, so the benchmark's client threads do not delay its
clock readings; records the arrival time (time.time()) of every POST by its
X-ESS-Cursor header and answers 204. Kept minimal so the hub, not the
receiver, is measured; its own ceiling is reported beside the hub's figures.
"""

import asyncio
import multiprocessing
import threading
import time


class _Server:
    """The child process's side: the asyncio server and a control pipe."""

    def __init__(self, conn) -> None:
        self.arrivals: dict[int, float] = {}
        self.count = 0
        self.conn = conn

    def run(self) -> None:
        loop = asyncio.new_event_loop()
        server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024))
        self.conn.send(server.sockets[0].getsockname()[1])
        threading.Thread(target=self._control, daemon=True).start()
        loop.run_forever()

    def _control(self) -> None:
        while True:
            try:
                command = self.conn.recv()
            except EOFError:
                return
            if command == "arrivals":
                self.conn.send(dict(self.arrivals))
            elif command == "reset":
                self.arrivals = {}
                self.count = 0
                self.conn.send(True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                cursor = None
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    lowered = name.strip().lower()
                    if lowered == b"content-length":
                        length = int(value)
                    elif lowered == b"x-ess-cursor":
                        cursor = int(value)
                if length:
                    await reader.readexactly(length)
                now = time.time()
                self.count += 1
                if cursor is not None:
                    self.arrivals.setdefault(cursor, now)
                writer.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionResetError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


def _serve_forever(conn) -> None:
    _Server(conn).run()


class BenchReceiver:
    """The benchmark's handle on the receiver process."""

    def __init__(self) -> None:
        self._conn, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("fork").Process(target=_serve_forever, args=(child,), daemon=True)
        self._process.start()
        self.port = self._conn.recv()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def arrivals(self) -> dict[int, float]:
        self._conn.send("arrivals")
        return self._conn.recv()

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(self.arrivals) >= count:
                return True
            time.sleep(0.05)
        return False

    def reset(self) -> None:
        self._conn.send("reset")
        self._conn.recv()

    def close(self) -> None:
        self._process.kill()
        self._process.join()
