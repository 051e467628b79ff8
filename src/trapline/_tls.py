"""TLS over any ``Stream``: ``TLSStream`` runs the stdlib ``ssl`` engine on memory buffers.

(Modelled on trio's ``_ssl.py`` ``SSLStream``.) ``ssl.SSLContext.wrap_bio`` gives an
``ssl.SSLObject`` that never touches a socket: it reads ciphertext from one ``MemoryBIO``
("incoming") and writes ciphertext to another ("outgoing"). Every operation (handshake, read,
write, close) is a loop: call the ``SSLObject``; send whatever it put in "outgoing" with the
transport's ``send_all``; if it raised ``SSLWantReadError``, feed "incoming" from the transport's
``recv`` and call it again. Some facts that shape the code:

* The ``SSLObject`` is shared by the reading task and the writing task, and either may need the
  transport in either direction (a read can produce output, a write during a TLS 1.2
  renegotiation needs input). Two small locks keep the transport calls one at a time. The send
  lock's holder drains "outgoing" until it is empty before letting go, so a reader that finds the
  lock taken leaves its few bytes to the holder instead of waiting behind a writer that the peer
  is not reading from. Bytes are taken from "outgoing" only while holding the lock, so the order
  on the wire is the order OpenSSL produced them. Receivers count transport reads: a task that
  waited for another's read retries the ``SSLObject`` instead of reading again.
* Buffering is bounded: ``send_all`` encrypts at most ``_SEND_CHUNK`` bytes before sending them,
  and the transport is read only when OpenSSL lacks a whole record.
* Once ciphertext is handed to the transport, a cancelled ``send_all`` of it may leave half a
  record on the wire; nothing more can be sent after that, so the stream becomes *broken*.
  Cancellation is therefore checked before each chunk is encrypted: a cancel that lands there (or
  while waiting for a lock, or for input) leaves the stream intact.
* A TLS 1.3 server finishes its handshake and at once produces session tickets. Sending them
  before the server's first write can deadlock a peer that is not reading, or turn the client's
  close into a reset that discards data (openssl/openssl#7948), so they wait for the first write.
* In TLS 1.3 a ``close_notify`` closes only the sender's direction (RFC 8446 section 6.1), so
  ``send_eof`` sends one and reading goes on. In TLS 1.2 the peer must answer a ``close_notify``
  by closing too (RFC 5246 section 7.2.1), so there ``send_eof`` refuses.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any, Literal, final, overload

from ._core import BrokenResourceError, BusyResourceError, ClosedResourceError, move_on_after
from ._streams import Stream
from .lowlevel import (
    ParkingLot,
    Task,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    current_task,
)

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

__all__ = ["TLSStream"]

#: Plaintext encrypted per transport ``send_all`` (bounds the ciphertext held in memory).
_SEND_CHUNK = 65536
#: Bytes asked of the transport per read.
_RECEIVE_SIZE = 65536
#: How long ``aclose`` tries to deliver ``close_notify`` before closing the transport anyway.
CLOSE_NOTIFY_TIMEOUT = 1.0

_OK, _BROKEN, _CLOSED = "ok", "broken", "closed"


@final
class _Lock:
    """A FIFO lock passed straight from its holder to the next waiter (a parking lot and an
    owner), guarding one direction of the transport."""

    __slots__ = ("_lot", "owner")

    def __init__(self, reason: str) -> None:
        self._lot = ParkingLot(reason)
        self.owner: Task | None = None

    async def acquire(self) -> None:
        """Take the lock. Not a checkpoint when it is free; otherwise parks (cancellable, and a
        cancelled waiter never gets the lock)."""
        if self.owner is None:
            self.owner = current_task()
        else:
            await self._lot.park()  # release() made us the owner before waking us

    def release(self) -> None:
        woken = self._lot.unpark()
        self.owner = woken[0] if woken else None


@final
class TLSStream(Stream):
    """A TLS session over ``transport_stream`` (any ``Stream``: TCP, Unix, memory, even TLS).

    ``TLSStream(transport, ssl_context, server_hostname="example.com")`` for a client,
    ``server_side=True`` for a server; then ``await stream.do_handshake()`` (``Stream.start_tls``
    does both). A client whose context checks host names must give ``server_hostname``
    (``ValueError`` otherwise). The TLS stream owns the transport from then on: do not use it
    directly, and ``aclose()`` closes it. One task may read while another writes.

    Errors: any TLS failure (a certificate that does not verify, a fatal alert, garbage from the
    peer) raises ``BrokenResourceError`` whose ``__cause__`` is the ``ssl.SSLError`` (for example
    ``ssl.SSLCertVerificationError``). A peer that closes the connection without a TLS
    ``close_notify`` is a ``BrokenResourceError`` too (the data may have been truncated); a clean
    ``close_notify`` reads as the end of the stream (``b""``). After a ``BrokenResourceError``,
    a cancelled handshake, or a send cancelled while the transport was sending, every call raises
    ``BrokenResourceError`` except ``aclose()``, which still closes the transport. (A cancelled
    read never breaks the stream.)
    """

    __slots__ = (
        "_broken_reason",
        "_delayed_outgoing",
        "_eof_sent",
        "_handshake_done",
        "_handshake_lot",
        "_handshaking",
        "_incoming",
        "_incoming_eof",
        "_outgoing",
        "_recv_count",
        "_recv_lock",
        "_send_broken",
        "_send_lock",
        "_sending",
        "_ssl",
        "_state",
        "_transport",
    )

    def __init__(
        self,
        transport_stream: Stream,
        ssl_context: ssl.SSLContext,
        *,
        server_hostname: str | None = None,
        server_side: bool = False,
    ) -> None:
        # ssl.SSLSocket makes these checks; wrap_bio does not, and a client without a host name
        # would then verify the certificate chain but silently skip the host name.
        if server_side and server_hostname:
            raise ValueError("server_hostname can only be given on the client side")
        if not server_side and not server_hostname and ssl_context.check_hostname:
            raise ValueError("the context has check_hostname set, so give server_hostname")
        super().__init__()
        self._transport = transport_stream
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._incoming_eof = False  # write_eof() was called on "incoming"
        self._ssl = ssl_context.wrap_bio(
            self._incoming, self._outgoing, server_side=server_side, server_hostname=server_hostname
        )
        self._state = _OK
        self._broken_reason = ""
        self._send_broken = False  # a transport send failed midway: the wire holds a cut record
        self._sending = False
        self._eof_sent = False
        self._delayed_outgoing = b""  # TLS 1.3 server session tickets, sent with the first write
        self._handshake_done = False
        self._handshaking = False
        self._handshake_lot = ParkingLot("TLS handshake in another task")
        self._send_lock = _Lock("TLS: waiting to send on the transport")
        self._recv_lock = _Lock("TLS: waiting to receive from the transport")
        self._recv_count = 0

    def __repr__(self) -> str:
        side = "server" if self._ssl.server_side else "client"
        return f"<TLSStream {side} {self._state} over {self._transport!r}>"

    # -- information -----------------------------------------------------------------------------

    @property
    def transport_stream(self) -> Stream:
        """The stream the TLS records travel over."""
        return self._transport

    def selected_alpn_protocol(self) -> str | None:
        """The protocol ALPN agreed on, or None (no ALPN, or before the handshake)."""
        return self._ssl.selected_alpn_protocol()

    @overload
    def getpeercert(self, binary_form: Literal[False] = False) -> dict[str, Any] | None: ...
    @overload
    def getpeercert(self, binary_form: Literal[True]) -> bytes | None: ...
    def getpeercert(self, binary_form: bool = False) -> dict[str, Any] | bytes | None:
        """The peer's certificate, as ``ssl.SSLSocket.getpeercert`` returns it (``ValueError``
        before the handshake)."""
        if binary_form:
            return self._ssl.getpeercert(True)
        return self._ssl.getpeercert(False)

    def version(self) -> str | None:
        """The negotiated protocol version (``"TLSv1.3"``), or None before the handshake."""
        return self._ssl.version()

    def cipher(self) -> tuple[str, str, int] | None:
        """``(name, protocol version, secret bits)`` of the cipher, or None before the
        handshake."""
        return self._ssl.cipher()

    # -- state -----------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state is _CLOSED:
            raise ClosedResourceError("this TLS stream was closed")

    def _check_usable(self) -> None:
        self._check_open()
        if self._state is _BROKEN:
            raise BrokenResourceError(f"this TLS stream is broken: {self._broken_reason}")

    def _break(self, reason: str) -> None:
        if self._state is _OK:
            self._state = _BROKEN
            self._broken_reason = reason

    def _tls_error(self, error: ssl.SSLError, doing: str) -> BrokenResourceError:
        if isinstance(error, ssl.SSLEOFError):
            message = "the peer closed the connection without a TLS close_notify"
        else:
            message = f"{doing} failed: {error}"
        self._break(message)
        return BrokenResourceError(message)

    # -- moving bytes between the SSLObject and the transport ------------------------------------

    async def _send_pending(self) -> None:
        """Send everything in "outgoing" until it stays empty. The caller holds the send lock."""
        # Checked before any byte leaves "outgoing": cancelled here, nothing is lost.
        await checkpoint_if_cancelled()
        try:
            while self._outgoing.pending:
                data = self._delayed_outgoing + self._outgoing.read()
                self._delayed_outgoing = b""
                await self._transport.send_all(data)
        except BaseException as error:
            # Some unknown prefix of ``data`` went out, perhaps half a record.
            self._send_broken = True
            self._break(f"a send on the transport failed or was cancelled ({error!r})")
            raise

    async def _flush(self, *, wait: bool) -> None:
        """Send what the ``SSLObject`` produced. With ``wait=False`` and the send lock held by
        another task, leave it to that task (it drains "outgoing" before releasing)."""
        lock = self._send_lock
        if lock.owner is not None and not wait:
            return
        await lock.acquire()
        try:
            await self._send_pending()
        finally:
            lock.release()

    async def _receive_more(self) -> None:
        """Feed "incoming" with one transport read, unless another task read while we waited
        for the lock (then the caller just retries the ``SSLObject``)."""
        count = self._recv_count
        await self._recv_lock.acquire()
        try:
            if count != self._recv_count:
                return
            try:
                data = await self._transport.recv(_RECEIVE_SIZE)
            except (BrokenResourceError, ClosedResourceError) as error:
                self._break(f"the transport failed: {error}")
                raise
            if data:
                self._incoming.write(data)
            else:
                self._incoming.write_eof()
                self._incoming_eof = True
            self._recv_count += 1
        finally:
            self._recv_lock.release()

    # -- handshake -------------------------------------------------------------------------------

    async def do_handshake(self) -> None:
        """Run the TLS handshake, or wait for the one another task runs; return at once (after a
        checkpoint) if it is done already. Reads and sends run it implicitly if needed.

        Checkpoint: yes. Raises ``BrokenResourceError`` if the handshake fails (its
        ``__cause__`` is the ``ssl.SSLError``, for example ``ssl.SSLCertVerificationError`` for a
        wrong host name), or if an earlier one failed; ``ClosedResourceError`` after
        ``aclose()``. Cancellation: a cancelled handshake leaves the stream broken; call
        ``aclose()``, which closes the transport. (A task only waiting for another task's
        handshake just stops waiting.)
        """
        self._check_usable()
        if self._handshake_done:
            await checkpoint()
            return
        if self._handshaking:
            await self._handshake_lot.park()
            self._check_usable()
            return
        self._handshaking = True
        try:
            await self._handshake()
            self._handshake_done = True
        except BaseException as error:
            self._break(f"the TLS handshake did not complete ({error!r})")
            raise
        finally:
            self._handshaking = False
            self._handshake_lot.unpark_all()

    async def _handshake(self) -> None:
        await checkpoint_if_cancelled()
        tls = self._ssl
        while True:
            try:
                tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            except ssl.SSLError as error:
                # The alert OpenSSL queued for the peer stays in "outgoing"; aclose() sends it.
                raise self._tls_error(error, "the TLS handshake") from error
            if done and tls.server_side and tls.version() == "TLSv1.3":
                self._delayed_outgoing += self._outgoing.read()  # session tickets: see top
            if self._outgoing.pending:
                await self._flush(wait=True)
            if done:
                return
            await self._receive_more()

    # -- reading ---------------------------------------------------------------------------------

    async def _receive_some(self, max_bytes: int) -> bytes:
        """Decrypted bytes; ``b""`` after the peer's ``close_notify``.

        ``BrokenResourceError`` if the connection ends without one, or on any TLS error. Cancelling
        loses nothing: ciphertext already read stays in "incoming".
        """
        self._check_usable()
        if not self._handshake_done:
            await self.do_handshake()
        await checkpoint_if_cancelled()
        tls = self._ssl
        yielded = False
        while True:
            try:
                # At most one record (16 KiB) per call: a bigger buffer is only a bigger malloc.
                data = tls.read(min(max_bytes, _RECEIVE_SIZE))
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                # close_notify, after ours was sent (before that, read() returns b"" itself).
                data = b""
                break
            except ssl.SSLError as error:
                raise self._tls_error(error, "receiving") from error
            else:
                # Output the read produced (rare: renegotiation) is left for the next flush, so
                # that no await stands between decrypting these bytes and returning them.
                break
            yielded = True
            if self._outgoing.pending:
                await self._flush(wait=False)
            await self._receive_more()
        if not yielded:
            await cancel_shielded_checkpoint()
        return data

    # -- writing ---------------------------------------------------------------------------------

    async def send_all(self, data: ReadableBuffer) -> None:
        """Encrypt ``data`` and send it all on the transport; returns when the transport has
        taken every byte (its backpressure is ours; at most ``_SEND_CHUNK`` bytes of ciphertext
        are held in memory).

        Checkpoint: yes. Raises ``BusyResourceError`` if another task is sending,
        ``ClosedResourceError`` after ``aclose()`` or ``send_eof()``, ``BrokenResourceError`` on
        a TLS or transport failure. Cancellation: if it lands before a chunk is encrypted, a
        prefix of ``data`` (whole chunks) has been sent and the stream still works; if it lands
        while the transport is sending, the stream is broken (a record may be cut in half).
        """
        if self._sending:
            raise BusyResourceError("another task is already sending on this stream")
        self._check_usable()
        if self._eof_sent:
            raise ClosedResourceError("send_eof() was called on this stream")
        self._sending = True
        try:
            if not self._handshake_done:
                await self.do_handshake()
            with memoryview(data) as raw, raw.cast("B") as view:
                if not view:
                    await checkpoint()
                    return
                await checkpoint_if_cancelled()
                await self._send_lock.acquire()
                try:
                    for start in range(0, len(view), _SEND_CHUNK):
                        await self._write(view[start : start + _SEND_CHUNK])
                finally:
                    self._send_lock.release()
        finally:
            self._sending = False

    async def _write(self, chunk: memoryview) -> None:
        """Encrypt and send one chunk. The caller holds the send lock; every pass yields."""
        while True:
            await checkpoint_if_cancelled()  # before encrypting: a cancel here breaks nothing
            self._check_usable()
            try:
                self._ssl.write(chunk)
                done = True
            except ssl.SSLWantReadError:  # a TLS 1.2 renegotiation wants the peer's reply
                done = False
            except ssl.SSLError as error:
                raise self._tls_error(error, "sending") from error
            await self._send_pending()
            if done:
                return
            await self._receive_more()

    async def send_eof(self) -> None:
        """Send TLS ``close_notify``: the peer reads the end of the stream, and this side can
        still read what the peer sends (TLS 1.3 only; a second call does nothing).

        Checkpoint: yes. Raises ``NotImplementedError`` if the session is TLS 1.2 or older
        (there the peer must close both directions on ``close_notify``: call ``aclose()``);
        ``BusyResourceError`` if another task is sending; ``ClosedResourceError`` after
        ``aclose()``; ``BrokenResourceError`` if the stream is broken. Cancellation: as for
        ``send_all``.
        """
        self._check_usable()
        if self._eof_sent:
            await checkpoint()
            return
        if self._sending:
            raise BusyResourceError("another task is already sending on this stream")
        self._sending = True
        try:
            if not self._handshake_done:
                await self.do_handshake()
            if self._ssl.version() != "TLSv1.3":
                raise NotImplementedError(
                    f"send_eof() needs TLS 1.3; this session is {self._ssl.version()}, where "
                    "close_notify closes both directions (use aclose())"
                )
            await checkpoint_if_cancelled()
            self._check_usable()
            await self._send_lock.acquire()
            try:
                self._close_notify()
                self._eof_sent = True
                await self._send_pending()
            finally:
                self._send_lock.release()
        finally:
            self._sending = False

    def _close_notify(self) -> None:
        """Put a ``close_notify`` in "outgoing", without waiting for the peer's."""
        # unwrap() calls SSL_shutdown a second time, which reads "incoming" looking for the
        # peer's close_notify and fails fatally on application data it finds there (data the
        # reader has not decrypted yet). Hide those bytes from it and put them back unchanged.
        incoming = self._incoming
        unread = b"" if self._incoming_eof else incoming.read()
        try:
            self._ssl.unwrap()
        except ssl.SSLWantReadError:
            pass  # it wants the peer's close_notify: we do not wait for it
        except ssl.SSLError as error:
            raise self._tls_error(error, "sending close_notify") from error
        finally:
            if unread:
                incoming.write(unread)

    # -- closing ---------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Send ``close_notify`` (or, after a failed handshake, the alert that says why), then
        close the transport. Sending is best effort: skipped when a send on the transport failed
        or is in progress in another task, and given up after ``CLOSE_NOTIFY_TIMEOUT`` seconds
        if the transport will not take the bytes. A second call does nothing.

        Checkpoint: yes. It always closes, even when cancelled (the attempt to send is shielded
        and bounded by the timeout), and raises nothing for a broken stream. Tasks blocked in
        ``recv`` or ``send_all`` get ``ClosedResourceError``.
        """
        if self._state is _CLOSED:
            await cancel_shielded_checkpoint()
            return
        was_ok = self._state is _OK
        self._state = _CLOSED
        can_send = not self._send_broken and self._send_lock.owner is None
        try:
            if can_send and was_ok and self._handshake_done and not self._eof_sent:
                try:
                    self._close_notify()
                except BrokenResourceError:
                    pass
            if can_send and self._outgoing.pending:
                with move_on_after(CLOSE_NOTIFY_TIMEOUT, shield=True):
                    try:
                        await self._flush(wait=True)
                    except (BrokenResourceError, ClosedResourceError, BusyResourceError):
                        pass  # the peer is gone already: nothing more to say to it
        finally:
            await self._transport.aclose()
