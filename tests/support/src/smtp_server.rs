//! A small real SMTP server for tests: listens on a loopback port, speaks
//! enough of RFC 5321 for lettre (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT)
//! and keeps every message it accepts. It can be stopped and started again on
//! the same port to test delivery retries, counts the connections it took,
//! and can be made slow to accept a message.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Clone, Default)]
pub struct Inbox {
    messages: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicU64>,
    /// How long the server waits before it accepts a message's data.
    data_delay: Arc<Mutex<Duration>>,
}

impl Inbox {
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }

    /// Connections opened to the server so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    /// Makes every message wait `delay` before the server accepts it.
    pub fn delay_data(&self, delay: Duration) {
        *self.data_delay.lock().unwrap() = delay;
    }
}

pub struct SmtpServer {
    pub port: u16,
    pub inbox: Inbox,
    task: Option<JoinHandle<()>>,
}

impl SmtpServer {
    /// Starts on a random loopback port.
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let inbox = Inbox::default();
        let task = Some(tokio::spawn(serve(listener, inbox.clone())));
        SmtpServer { port, inbox, task }
    }

    /// Stops accepting connections; the port is free until `resume`.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }

    /// Listens again on the same port. Must run inside a tokio runtime.
    pub fn resume(&mut self) {
        let listener = std::net::TcpListener::bind(("127.0.0.1", self.port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let listener = TcpListener::from_std(listener).unwrap();
        self.task = Some(tokio::spawn(serve(listener, self.inbox.clone())));
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn serve(listener: TcpListener, inbox: Inbox) {
    let mut sessions = tokio::task::JoinSet::new();
    while let Ok((stream, _)) = listener.accept().await {
        inbox.connections.fetch_add(1, Ordering::SeqCst);
        sessions.spawn(session(stream, inbox.clone()));
    }
}

async fn session(stream: TcpStream, inbox: Inbox) {
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader);
    if writer.write_all(b"220 test-smtp ready\r\n").await.is_err() {
        return;
    }
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") {
            b"250-test-smtp\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if ["HELO", "MAIL FROM", "RCPT TO", "RSET", "NOOP"]
            .iter()
            .any(|verb| command.starts_with(verb))
        {
            b"250 OK\r\n"
        } else if command == "DATA" {
            if writer
                .write_all(b"354 end with <CRLF>.<CRLF>\r\n")
                .await
                .is_err()
            {
                return;
            }
            let mut message = String::new();
            loop {
                line.clear();
                match lines.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == ".\r\n" || line == ".\n" {
                    break;
                }
                // Undo dot-stuffing.
                message.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            let delay = *inbox.data_delay.lock().unwrap();
            tokio::time::sleep(delay).await;
            inbox.messages.lock().unwrap().push(message);
            b"250 OK queued\r\n"
        } else if command == "QUIT" {
            let _ = writer.write_all(b"221 bye\r\n").await;
            return;
        } else {
            b"502 command not implemented\r\n"
        };
        if writer.write_all(reply).await.is_err() {
            return;
        }
    }
}
