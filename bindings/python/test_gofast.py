"""The Python suite of the gofast bindings: two nodes on loopback through the generated module.

Run by `cargo xtask bindings-test` (which puts gofast.py and libgofast_ffi.so beside this file in a
scratch folder). Prints `N passed, N failed`; exits 1 if any failed.
"""

import asyncio
import json
import os
import sys
import tempfile
import time
import traceback

import gofast
from gofast import GofastError, NodeConfig, start_node

WAIT = 60  # seconds any one event may take before the test fails


class Events(gofast.EventListener):
    """Hands events from the library's thread to an asyncio queue."""

    def __init__(self, loop):
        self.loop = loop
        self.queue = asyncio.Queue()

    def on_event(self, event):
        self.loop.call_soon_threadsafe(self.queue.put_nowait, event)

    async def wait_for(self, want):
        async def scan():
            while True:
                e = await self.queue.get()
                if want(e):
                    return e
        return await asyncio.wait_for(scan(), WAIT)


class Progress(gofast.ProgressListener):
    def __init__(self):
        self.calls = []

    def on_progress(self, done, total):
        self.calls.append((done, total))


async def raises(kind, awaitable):
    try:
        await awaitable
    except kind as e:
        assert str(e), "an error without a message"
        return e
    raise AssertionError(f"expected {kind.__name__}")


class Suite:
    def __init__(self, base):
        self.base = base
        self.tests = [
            self.golden_vectors,
            self.identities,
            self.connect_and_events,
            self.file_a_to_b,
            self.bytes_b_to_a,
            self.a_volume_on_two_devices,
            self.folders_pushed_and_pulled,
            self.a_device_revoked,
            self.pins,
            self.directory_and_gc,
            self.suspend_and_resume,
            self.low_power_node,
            self.errors_of_input,
            self.errors_of_the_network,
            self.error_when_stopped,
            self.cancel_a_transfer,
        ]

    def path(self, name):
        return os.path.join(self.base, name)

    async def start(self, name, **kw):
        return await start_node(NodeConfig(data_dir=self.path(name), **kw))

    async def setup(self):
        self.a = await self.start("a")
        self.events = Events(asyncio.get_running_loop())
        self.subscription = self.a.subscribe(self.events)
        self.b = await self.start("b")

    async def teardown(self):
        self.subscription.unsubscribe()
        await self.b.stop()
        await self.a.stop()

    async def golden_vectors(self):
        # The project's golden file (GOFAST_GOLDEN): its texts through the binding's parsers.
        with open(os.environ["GOFAST_GOLDEN"]) as f:
            golden = json.load(f)
        for b in golden["blocks"]:
            info = gofast.parse_uri("gofast:" + b["ref_text"])
            assert info.root_id == b["id"] and not info.dir
        for t in golden["trees"]:
            info = gofast.parse_uri(t["root_text"] + "/")
            assert info.root_id == t["root_id"] and info.dir
            assert info.uri == "gofast:" + t["root_text"] + "/"
        for i in golden["identities"]:
            assert gofast.parse_peer_id(i["text"]) == i["text"]
        for bad in golden["invalid_peer_id_texts"]:
            try:
                gofast.parse_peer_id(bad["text"])
            except GofastError.InvalidInput:
                continue
            raise AssertionError(f"accepted {bad['text']} ({bad['error']})")

    async def identities(self):
        assert self.a.peer_id().startswith("gfp1")
        assert self.a.peer_id() != self.b.peer_id()
        assert self.a.listen_address().startswith("127.0.0.1:")
        assert self.a.bootstrap_address() == f"{self.a.peer_id()}@{self.a.listen_address()}"

    async def connect_and_events(self):
        found = await self.b.add_peer(self.a.bootstrap_address())
        assert found >= 1
        b = self.b.peer_id()
        await self.events.wait_for(
            lambda e: isinstance(e, gofast.Event.PEER_CONNECTED) and e.peer == b)
        peers = await self.b.peers()
        assert any(p.peer == self.a.peer_id() for p in peers)

    async def file_a_to_b(self):
        data = os.urandom(5 * 1024 * 1024 + 123)
        with open(self.path("five.bin"), "wb") as f:
            f.write(data)
        added = Progress()
        result = await self.a.add_file(self.path("five.bin"), added).wait()
        assert result.uri.startswith("gofast:gfb1") and result.size == len(data)
        assert added.calls and added.calls[-1] == (len(data), len(data))
        got = Progress()
        dest = self.path("five-copy.bin")
        fetched = await self.b.get_to_file(result.uri, dest, got).wait()
        assert fetched.size == len(data) and fetched.blocks > 0
        with open(dest, "rb") as f:
            assert f.read() == data
        assert got.calls and got.calls[-1][1] == len(data)

    async def bytes_b_to_a(self):
        data = os.urandom(3 * 1024 * 1024)
        added = await self.b.add_bytes("three", data)
        assert added.announced_to >= 1
        copy = await self.a.get_bytes(added.uri, "three-copy", 16 * 1024 * 1024)
        assert copy == data
        await self.events.wait_for(
            lambda e: isinstance(e, gofast.Event.FETCHED) and e.size == len(data))

    async def a_volume_on_two_devices(self):
        home = await self.a.create_volume("home")
        assert await home.write("/notes/todo.txt", b"milk")
        cap = await home.capability()
        assert cap.startswith("gfv1")
        joined = await self.b.join_volume("home", cap)
        await home.allow(self.b.peer_id())
        assert await home.write("/notes/todo.txt", b"milk, eggs")
        # The write is in the DHT when it returns: a sync finds it.
        await joined.sync()
        assert await joined.read("/notes/todo.txt", None) == b"milk, eggs"
        items = await joined.list("/notes", None)
        assert [i.name for i in items] == ["todo.txt"] and not items[0].is_dir
        assert (await joined.info()).may_write
        log = await home.log(10)
        assert len(log) == 3 and log[0].height == 3, log
        assert await home.read("/notes/todo.txt", log[1].id) == b"milk"
        await raises(GofastError.NotFound, joined.read("/nothing", None))
        await raises(GofastError.InvalidInput, self.b.join_volume("other", "gfv1nonsense"))
        assert [v.name for v in await self.a.volumes()] == ["home"]

    async def folders_pushed_and_pulled(self):
        src, inbox = self.path("trip"), self.path("inbox")
        os.makedirs(os.path.join(src, "day1"))
        os.makedirs(inbox)
        with open(os.path.join(src, "day1", "a.jpg"), "wb") as f:
            f.write(os.urandom(300_000))
        with open(os.path.join(src, "notes.txt"), "wb") as f:
            f.write(b"first")
        # Written an hour ago: a file written moments before a push is read again by the next.
        hour_ago = time.time() - 3600
        for name in (os.path.join("day1", "a.jpg"), "notes.txt"):
            os.utime(os.path.join(src, name), (hour_ago, hour_ago))
        await raises(GofastError.InvalidInput,
                     self.a.push_folder(src, self.b.bootstrap_address(), "trip"))
        await self.b.allow_pushes(self.a.peer_id(), inbox)
        first = await self.a.push_folder(src, self.b.bootstrap_address(), "trip")
        assert first.files == 2 and first.written == 2, first
        with open(os.path.join(src, "notes.txt"), "wb") as f:
            f.write(b"second, longer")
        again = await self.a.push_folder(src, self.b.bootstrap_address(), "trip")
        assert again.read == 1 and again.written == 1, again
        with open(os.path.join(inbox, "trip", "notes.txt"), "rb") as f:
            assert f.read() == b"second, longer"
        # A pull of the same folder from a URI: the copy matches.
        added = await self.a.add_file(src, None).wait()
        pulled = await self.b.pull_folder(added.uri, self.path("trip-copy"))
        assert pulled.written == 2, pulled
        with open(os.path.join(self.path("trip-copy"), "day1", "a.jpg"), "rb") as f, \
                open(os.path.join(src, "day1", "a.jpg"), "rb") as g:
            assert f.read() == g.read()
        # Retention on the volume made above: keep the newest snapshot only.
        home = await self.a.volume("home")
        kept = await home.set_retention(1, None)
        assert kept.kept == 1 and kept.dropped == 2, kept
        assert await home.read("/notes/todo.txt", None) == b"milk, eggs"
        await raises(GofastError.InvalidInput, home.set_retention(0, None))

    async def a_device_revoked(self):
        home = await self.a.volume("home")
        assert (await home.info()).key_epoch == 0
        left = await home.revoke(self.b.peer_id())
        assert left.key_epoch == 1 and self.b.peer_id() not in left.devices, left
        assert await home.write("/after.txt", b"not for b")
        # B holds no key of the new epoch: its sync says so, and it reads nothing new.
        joined = await self.b.volume("home")
        await raises(GofastError.InvalidInput, joined.sync())
        await raises(GofastError.NotFound, joined.read("/after.txt", None))
        assert not (await joined.info()).may_write

    async def pins(self):
        added = await self.a.add_bytes("pinned", b"x" * 1000)
        pins = await self.a.pins()
        assert any(p.label == "pinned" and p.uri == added.uri for p in pins)
        assert await self.a.pin("again", added.uri) >= 1
        await self.a.unpin("again")
        await raises(GofastError.NotFound, self.a.unpin("again"))
        stats = await self.a.stats()
        assert stats.contacts >= 1 and stats.permanent_blocks > 0 and stats.pins >= 2

    async def directory_and_gc(self):
        top = self.path("album")
        os.makedirs(os.path.join(top, "sub"))
        files = {"one.txt": b"1" * 1000, os.path.join("sub", "two.bin"): os.urandom(200_000)}
        for name, data in files.items():
            with open(os.path.join(top, name), "wb") as f:
                f.write(data)
        added = await self.a.add_file(top, None).wait()
        assert added.uri.endswith("/") and gofast.parse_uri(added.uri).dir
        copy = self.path("album-copy")
        await self.b.get_to_file(added.uri, copy, None).wait()
        for name, data in files.items():
            with open(os.path.join(copy, name), "rb") as f:
                assert f.read() == data
        before = (await self.b.stats()).pins
        await self.b.unpin("album-copy/")
        assert (await self.b.stats()).pins == before - 1
        await self.b.gc()

    async def suspend_and_resume(self):
        await self.a.suspend()
        await self.events.wait_for(lambda e: isinstance(e, gofast.Event.SUSPENDED))
        assert self.a.is_suspended() and (await self.a.stats()).suspended
        await raises(GofastError.Busy, self.a.add_peer(self.b.bootstrap_address()))
        await self.a.resume()
        await self.events.wait_for(lambda e: isinstance(e, gofast.Event.RESUMED))
        assert not self.a.is_suspended()
        assert await self.a.add_peer(self.b.bootstrap_address()) >= 1

    async def low_power_node(self):
        c = await self.start("c", low_power=True, bootstrap=[self.a.bootstrap_address()])
        try:
            await c.add_peer(self.a.bootstrap_address())
            added = await self.a.add_bytes("for-c", b"low power" * 1000)
            assert await c.get_bytes(added.uri, "copy", 1 << 20) == b"low power" * 1000
        finally:
            await c.stop()

    async def errors_of_input(self):
        await raises(GofastError.InvalidInput, self.a.get_bytes("gofast:nonsense", "x", 10))
        await raises(GofastError.InvalidInput, self.start("bad", listen="not an address"))
        await raises(GofastError.NotFound, self.a.add_file(self.path("missing"), None).wait())
        added = await self.a.add_bytes("exists", b"y" * 100)
        open(self.path("taken.partial"), "wb").close()
        await raises(GofastError.AlreadyExists,
                     self.a.get_to_file(added.uri, self.path("taken"), None).wait())
        # A file's root read as a directory listing fails its checks.
        await raises(GofastError.Corrupt,
                     self.a.get_to_file(added.uri + "/", self.path("as-dir"), None).wait())
        with open(self.path("a-file"), "wb") as f:
            f.write(b"not a folder")
        await raises(GofastError.Io, self.start("a-file/node"))

    async def errors_of_the_network(self):
        # Nobody listens on the port of a node that stopped.
        gone = await self.start("gone")
        address = gone.listen_address()
        await gone.stop()
        await raises(GofastError.Network, self.a.add_peer(address))

    async def error_when_stopped(self):
        d = await self.start("d")
        await d.stop()
        await d.stop()  # twice is fine
        await raises(GofastError.Stopped, d.stats())
        try:
            d.peer_id()
        except GofastError.Stopped:
            pass
        else:
            raise AssertionError("a stopped node answered")

    async def cancel_a_transfer(self):
        with open(self.path("big.bin"), "wb") as f:
            f.write(os.urandom(64 * 1024 * 1024))
        transfer = self.a.add_file(self.path("big.bin"), None)
        transfer.cancel()
        await raises(GofastError.Cancelled, transfer.wait())
        assert transfer.is_finished()
        # An asyncio task cancelled while it awaits a call stops the work: nothing is pinned.
        task = asyncio.ensure_future(self.a.add_bytes("never", os.urandom(64 * 1024 * 1024)))
        await asyncio.sleep(0)  # let the call start
        task.cancel()
        try:
            await task
            raise AssertionError("the cancelled add finished")
        except asyncio.CancelledError:
            pass
        assert all(p.label != "never" for p in await self.a.pins())

async def main():
    passed = failed = 0
    with tempfile.TemporaryDirectory() as base:
        suite = Suite(base)
        await suite.setup()
        try:
            for test in suite.tests:
                try:
                    await test()
                    passed += 1
                    print(f"ok   {test.__name__}")
                except Exception:
                    failed += 1
                    print(f"FAIL {test.__name__}")
                    traceback.print_exc()
        finally:
            await suite.teardown()
    print(f"{passed} passed, {failed} failed")
    return failed


if __name__ == "__main__":
    sys.exit(1 if asyncio.run(main()) else 0)
