//! The bytes under a socket: hearth's frames, encoded once by the hub and shared by
//! every recipient, go to the peer from here without a copy per socket, and nothing is
//! kept once they are out. tungstenite still reads the client's frames and writes its
//! own control frames (pongs, the close) through this stream, after what waits here.
//!
//! Why not tungstenite's write buffer: it is a `Vec` that keeps the capacity of the
//! largest batch it ever held, for as long as the socket lives; under a busy room's
//! fan-out that made most of an idle socket's memory.
use std::{
    collections::VecDeque,
    io::{self, IoSlice},
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::{Buf, Bytes};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};
use tokio_tungstenite::tungstenite::protocol::frame::{
    Frame,
    coding::{Data, OpCode},
};

/// Frames handed to one vectored write at most.
const SLICES_PER_WRITE: usize = 64;

/// Queue slots kept once the queue is empty; a longer queue is given back.
const KEPT_SLOTS: usize = 8;

/// A text frame from the server (unmasked), header and payload in one buffer.
pub fn text_frame(payload: impl Into<Bytes>) -> Bytes {
    encode(Frame::message(payload, OpCode::Data(Data::Text), true))
}

/// A ping from the server, with no payload.
pub fn ping_frame() -> Bytes {
    encode(Frame::ping(Bytes::new()))
}

fn encode(frame: Frame) -> Bytes {
    let mut out = Vec::with_capacity(frame.len());
    // Writing into a `Vec` cannot fail.
    if frame.format(&mut out).is_err() {
        out.clear();
    }
    Bytes::from(out)
}

/// A socket's TCP stream, with the encoded frames still to write to it.
#[derive(Debug)]
pub struct Wire {
    tcp: TcpStream,
    pending: VecDeque<Bytes>,
}

impl Wire {
    pub fn new(tcp: TcpStream) -> Self {
        Self {
            tcp,
            pending: VecDeque::new(),
        }
    }

    /// Queues an encoded frame; it goes out at the next flush (or before anything
    /// tungstenite writes).
    pub fn push(&mut self, frame: Bytes) {
        if !frame.is_empty() {
            self.pending.push_back(frame);
        }
    }

    /// Writes what is queued, as few system calls as it takes.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.pending.is_empty() {
            let mut slices = [IoSlice::new(&[]); SLICES_PER_WRITE];
            let mut count = 0;
            for (slot, frame) in slices.iter_mut().zip(self.pending.iter()) {
                *slot = IoSlice::new(frame);
                count += 1;
            }
            let written =
                ready!(Pin::new(&mut self.tcp).poll_write_vectored(cx, &slices[..count]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.advance(written);
        }
        if self.pending.capacity() > KEPT_SLOTS {
            self.pending = VecDeque::new();
        }
        Poll::Ready(Ok(()))
    }

    /// Drops `written` bytes from the front of the queue.
    fn advance(&mut self, mut written: usize) {
        while written > 0 {
            let Some(front) = self.pending.front_mut() else {
                return;
            };
            if written < front.len() {
                front.advance(written);
                return;
            }
            written -= front.len();
            self.pending.pop_front();
        }
    }
}

impl AsyncRead for Wire {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Wire {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let wire = self.get_mut();
        // tungstenite's frames go after the ones queued before them.
        ready!(wire.poll_drain(cx))?;
        Pin::new(&mut wire.tcp).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let wire = self.get_mut();
        ready!(wire.poll_drain(cx))?;
        Pin::new(&mut wire.tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let wire = self.get_mut();
        ready!(wire.poll_drain(cx))?;
        Pin::new(&mut wire.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn frames_are_encoded_as_rfc_6455_server_frames() {
        assert_eq!(&text_frame("hi")[..], b"\x81\x02hi");
        assert_eq!(&ping_frame()[..], b"\x89\x00");
        let long = text_frame(vec![b'a'; 300]);
        assert_eq!(&long[..4], b"\x81\x7e\x01\x2c");
        assert_eq!(long.len(), 304);
    }

    #[tokio::test]
    async fn queued_frames_go_out_in_order_before_anything_written_after_them() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = tokio::spawn(async move {
            let mut peer = TcpStream::connect(addr).await.expect("connect");
            let mut got = Vec::new();
            peer.read_to_end(&mut got).await.expect("read");
            got
        });
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut wire = Wire::new(tcp);
        for i in 0..200 {
            wire.push(Bytes::from(format!("[{i}]")));
        }
        wire.write_all(b"<end>").await.expect("write");
        wire.shutdown().await.expect("shutdown");
        assert!(
            wire.pending.capacity() <= KEPT_SLOTS,
            "an empty queue keeps no room"
        );
        drop(wire);
        let expected: String = (0..200).map(|i| format!("[{i}]")).collect::<String>() + "<end>";
        assert_eq!(
            String::from_utf8(client.await.expect("client")).ok(),
            Some(expected)
        );
    }
}
