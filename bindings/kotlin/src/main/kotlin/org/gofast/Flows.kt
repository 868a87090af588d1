// Hand-written, thin: the shapes a Kotlin app expects over the generated bindings in gofast.kt.
// Events as a Flow, and transfers as suspend functions that cancel with their coroutine.
package org.gofast

import kotlinx.coroutines.CancellationException
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.channels.trySendBlocking
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow

/**
 * The node's events as a cold [Flow]: each collector subscribes when it starts collecting and
 * unsubscribes when it stops. The buffer holds 256 events for a slow collector; the node reports
 * an [Event.Missed] if it ever falls further behind.
 */
fun Node.events(): Flow<Event> = callbackFlow {
    val subscription = subscribe(object : EventListener {
        override fun onEvent(event: Event) {
            // The library calls from its own thread, one event at a time: waiting here is fine.
            trySendBlocking(event)
        }
    })
    awaitClose { subscription.close() }
}.buffer(256)

/** Waits for the transfer's end; cancelling the coroutine cancels the transfer. */
suspend fun Transfer.await(): TransferResult =
    try {
        wait()
    } catch (e: CancellationException) {
        cancel()
        throw e
    } finally {
        close()
    }

private fun progressOf(onProgress: ((ULong, ULong?) -> Unit)?): ProgressListener? =
    onProgress?.let { f ->
        object : ProgressListener {
            override fun onProgress(done: ULong, total: ULong?) = f(done, total)
        }
    }

/** Adds the file or directory at [path]: suspends until it is stored and announced. */
suspend fun Node.add(path: String, onProgress: ((ULong, ULong?) -> Unit)? = null): TransferResult =
    addFile(path, progressOf(onProgress)).await()

/** Fetches [uri] into [dest] (a file, or a new directory for a `…/` URI). */
suspend fun Node.fetch(
    uri: String,
    dest: String,
    onProgress: ((ULong, ULong?) -> Unit)? = null,
): TransferResult = getToFile(uri, dest, progressOf(onProgress)).await()
