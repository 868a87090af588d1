// The Kotlin suite of the gofast bindings: two nodes on loopback through the generated bindings
// and Flows.kt. Run by bindings/kotlin/run-tests.sh; prints `N passed, N failed`, exits 1 on failure.
package org.gofast

import java.io.File
import java.nio.file.Files
import kotlin.random.Random
import kotlin.system.exitProcess
import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.collect
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.yield

const val WAIT_MS = 60_000L

class Events(scope: CoroutineScope, node: Node) {
    private val channel = Channel<Event>(Channel.UNLIMITED)
    val job = scope.launch(Dispatchers.Default) { node.events().collect { channel.send(it) } }

    suspend fun waitFor(want: (Event) -> Boolean): Event = withTimeout(WAIT_MS) {
        var e = channel.receive()
        while (!want(e)) e = channel.receive()
        e
    }
}

suspend inline fun <reified E : GofastException> raises(crossinline block: suspend () -> Unit): E {
    try {
        block()
    } catch (e: GofastException) {
        check(e is E) { "expected ${E::class.simpleName}, got ${e::class.simpleName}: ${e.message}" }
        check(!e.message.isNullOrEmpty()) { "an error without a message" }
        return e
    }
    error("expected ${E::class.simpleName}")
}

class Suite(private val base: File, private val scope: CoroutineScope) {
    lateinit var a: Node
    lateinit var b: Node
    lateinit var events: Events

    fun path(name: String) = File(base, name).path

    suspend fun start(name: String, lowPower: Boolean = false, bootstrap: List<String> = listOf(), listen: String? = null) =
        startNode(NodeConfig(dataDir = path(name), listen = listen, bootstrap = bootstrap, lowPower = lowPower))

    suspend fun setup() {
        a = start("a")
        events = Events(scope, a)
        b = start("b")
    }

    suspend fun teardown() {
        events.job.cancelAndJoin()
        b.stop()
        a.stop()
    }

    val tests: List<Pair<String, suspend () -> Unit>> = listOf(
        "golden vectors" to {
            // The project's golden file (GOFAST_GOLDEN), read without a JSON library: its keys are
            // sorted and its layout fixed, so the fields sit side by side.
            val golden = File(System.getenv("GOFAST_GOLDEN")).readText()
            val trees = Regex(""""root_id":\s*"(\w+)",\s*"root_key":\s*"\w+",\s*"root_text":\s*"(\w+)"""")
                .findAll(golden).toList()
            check(trees.isNotEmpty())
            for (t in trees) {
                val (id, text) = t.destructured
                val info = parseUri("gofast:$text/")
                check(info.rootId == id && info.dir && info.uri == "gofast:$text/")
            }
            val ids = Regex(""""seed":\s*"\w+",\s*"text":\s*"(gfp1\w+)"""").findAll(golden).toList()
            check(ids.isNotEmpty())
            for (m in ids) check(parsePeerId(m.groupValues[1]) == m.groupValues[1])
            val bad = Regex(""""error":\s*"\w+",\s*"text":\s*"([^"]*)"""").findAll(golden).toList()
            check(bad.isNotEmpty())
            for (m in bad) raises<GofastException.InvalidInput> { parsePeerId(m.groupValues[1]) }
        },
        "identities" to {
            check(a.peerId().startsWith("gfp1") && a.peerId() != b.peerId())
            check(a.listenAddress().startsWith("127.0.0.1:"))
            check(a.bootstrapAddress() == "${a.peerId()}@${a.listenAddress()}")
        },
        "connect and events (Flow)" to {
            check(b.addPeer(a.bootstrapAddress()) >= 1u)
            val bId = b.peerId()
            events.waitFor { it is Event.PeerConnected && it.peer == bId }
            check(b.peers().any { it.peer == a.peerId() })
        },
        "a file from a to b" to {
            val data = Random.nextBytes(5 * 1024 * 1024 + 123)
            File(path("five.bin")).writeBytes(data)
            val added = mutableListOf<Pair<ULong, ULong?>>()
            val result = a.add(path("five.bin")) { done, total -> added.add(done to total) }
            check(result.uri.startsWith("gofast:gfb1") && result.size == data.size.toULong())
            check(added.last() == (data.size.toULong() to data.size.toULong()))
            val got = mutableListOf<Pair<ULong, ULong?>>()
            val fetched = b.fetch(result.uri, path("five-copy.bin")) { done, total -> got.add(done to total) }
            check(fetched.size == data.size.toULong() && fetched.blocks > 0u)
            check(File(path("five-copy.bin")).readBytes().contentEquals(data))
            check(got.isNotEmpty() && got.last().second == data.size.toULong())
        },
        "bytes from b to a" to {
            val data = Random.nextBytes(3 * 1024 * 1024)
            val added = b.addBytes("three", data)
            check(added.announcedTo >= 1u)
            check(a.getBytes(added.uri, "three-copy", 16uL * 1024u * 1024u).contentEquals(data))
            events.waitFor { it is Event.Fetched && it.size == data.size.toULong() }
        },
        "a volume on two devices" to {
            val home = a.createVolume("home")
            check(home.write("/notes/todo.txt", "milk".toByteArray()) != null)
            val cap = home.capability()
            check(cap.startsWith("gfv1"))
            val joined = b.joinVolume("home", cap)
            home.allow(b.peerId())
            check(home.write("/notes/todo.txt", "milk, eggs".toByteArray()) != null)
            // The write is in the DHT when it returns: a sync finds it.
            joined.sync()
            check(joined.read("/notes/todo.txt", null).contentEquals("milk, eggs".toByteArray()))
            val items = joined.list("/notes", null)
            check(items.map { it.name } == listOf("todo.txt") && !items[0].isDir)
            check(joined.info().mayWrite)
            val log = home.log(10u)
            check(log.size == 3 && log[0].height == 3uL)
            check(home.read("/notes/todo.txt", log[1].id).contentEquals("milk".toByteArray()))
            raises<GofastException.NotFound> { joined.read("/nothing", null) }
            raises<GofastException.InvalidInput> { b.joinVolume("other", "gfv1nonsense") }
            check(a.volumes().map { it.name } == listOf("home"))
        },
        "pins" to {
            val added = a.addBytes("pinned", ByteArray(1000) { 'x'.code.toByte() })
            check(a.pins().any { it.label == "pinned" && it.uri == added.uri })
            check(a.pin("again", added.uri) >= 1u)
            a.unpin("again")
            raises<GofastException.NotFound> { a.unpin("again") }
            val stats = a.stats()
            check(stats.contacts >= 1u && stats.permanentBlocks > 0u && stats.pins >= 2u)
        },
        "a directory, and gc" to {
            val top = File(path("album"))
            File(top, "sub").mkdirs()
            val files = mapOf("one.txt" to ByteArray(1000) { 1 }, "sub/two.bin" to Random.nextBytes(200_000))
            for ((name, data) in files) File(top, name).writeBytes(data)
            val added = a.add(top.path)
            check(added.uri.endsWith("/") && parseUri(added.uri).dir)
            b.fetch(added.uri, path("album-copy"))
            for ((name, data) in files) check(File(path("album-copy"), name).readBytes().contentEquals(data))
            val before = b.stats().pins
            b.unpin("album-copy/")
            check(b.stats().pins == before - 1u)
            b.gc()
        },
        "suspend and resume" to {
            a.suspend()
            events.waitFor { it is Event.Suspended }
            check(a.isSuspended() && a.stats().suspended)
            raises<GofastException.Busy> { a.addPeer(b.bootstrapAddress()) }
            a.resume()
            events.waitFor { it is Event.Resumed }
            check(!a.isSuspended())
            check(a.addPeer(b.bootstrapAddress()) >= 1u)
        },
        "a low-power node" to {
            val c = start("c", lowPower = true, bootstrap = listOf(a.bootstrapAddress()))
            try {
                c.addPeer(a.bootstrapAddress())
                val data = "low power".repeat(1000).toByteArray()
                val added = a.addBytes("for-c", data)
                check(c.getBytes(added.uri, "copy", 1uL shl 20).contentEquals(data))
            } finally {
                c.stop()
            }
        },
        "errors of input" to {
            raises<GofastException.InvalidInput> { a.getBytes("gofast:nonsense", "x", 10u) }
            raises<GofastException.InvalidInput> { start("bad", listen = "not an address") }
            raises<GofastException.NotFound> { a.add(path("missing")) }
            val added = a.addBytes("exists", ByteArray(100))
            File(path("taken.partial")).createNewFile()
            raises<GofastException.AlreadyExists> { a.fetch(added.uri, path("taken")) }
            raises<GofastException.Corrupt> { a.fetch(added.uri + "/", path("as-dir")) }
            File(path("a-file")).writeText("not a folder")
            raises<GofastException.Io> { start("a-file/node") }
        },
        "errors of the network" to {
            val gone = start("gone")
            val address = gone.listenAddress()
            gone.stop()
            raises<GofastException.Network> { a.addPeer(address) }
        },
        "error when stopped" to {
            val d = start("d")
            d.stop()
            d.stop()
            raises<GofastException.Stopped> { d.stats() }
            raises<GofastException.Stopped> { d.peerId() }
        },
        "cancel a transfer" to {
            File(path("big.bin")).writeBytes(Random.nextBytes(64 * 1024 * 1024))
            val transfer = a.addFile(path("big.bin"), null)
            transfer.cancel()
            raises<GofastException.Cancelled> { transfer.wait() }
            check(transfer.isFinished())
            transfer.close()
            // A coroutine cancelled while it awaits a call stops the work: nothing is pinned.
            val job = scope.async(Dispatchers.Default) { a.addBytes("never", Random.nextBytes(64 * 1024 * 1024)) }
            yield()
            job.cancelAndJoin()
            check(job.isCancelled)
            check(a.pins().none { it.label == "never" })
        },
    )
}

fun main() {
    val base = Files.createTempDirectory("gofast-kotlin").toFile()
    var passed = 0
    var failed = 0
    runBlocking {
        val suite = Suite(base, this)
        suite.setup()
        try {
            for ((name, test) in suite.tests) {
                try {
                    test()
                    passed++
                    println("ok   $name")
                } catch (e: Throwable) {
                    if (e is CancellationException && e !is kotlinx.coroutines.TimeoutCancellationException) throw e
                    failed++
                    println("FAIL $name")
                    e.printStackTrace(System.out)
                }
            }
        } finally {
            suite.teardown()
        }
    }
    base.deleteRecursively()
    println("$passed passed, $failed failed")
    exitProcess(if (failed == 0) 0 else 1)
}
