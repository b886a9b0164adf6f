//! The listening sockets of the operator's servers (admission webhook, metrics and health).

use std::io;
use std::net::{Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;

/// Binds `addr` for a server. The unspecified address of either family (`0.0.0.0`, `[::]`)
/// means every address of the pod: one IPv6 socket that takes IPv4 connections too
/// (dual-stack, whatever the node's `net.ipv6.bindv6only` says), so the same default serves
/// IPv4-only, IPv6-only and dual-stack clusters; where the kernel has no IPv6 at all, an IPv4
/// socket. Any other address is bound as given. Call it inside a Tokio runtime.
pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    if !addr.ip().is_unspecified() {
        return listen(
            Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?,
            addr,
        );
    }
    let any6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, addr.port()));
    let dual = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))
        .and_then(|s| s.set_only_v6(false).map(|()| s));
    match dual {
        Ok(socket) => listen(socket, any6),
        // No IPv6 in this kernel (booted with ipv6.disable=1): IPv4 alone.
        Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
            let any4 = SocketAddr::from(([0, 0, 0, 0], addr.port()));
            listen(
                Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?,
                any4,
            )
        }
        Err(e) => Err(e),
    }
}

fn listen(socket: Socket, addr: SocketAddr) -> io::Result<TcpListener> {
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `0.0.0.0` and `[::]` both answer on IPv4 and IPv6 loopback; a given address only there.
    /// (Where the machine has no IPv6 loopback, as in some containers, IPv4 alone is checked.)
    #[tokio::test]
    async fn the_unspecified_address_serves_both_families() {
        let v6_loopback = std::net::TcpListener::bind("[::1]:0").is_ok();
        let clients: &[&str] = if v6_loopback {
            &["127.0.0.1", "::1"]
        } else {
            &["127.0.0.1"]
        };
        for any in ["0.0.0.0:0", "[::]:0"] {
            let listener = bind(any.parse().expect("addr")).expect("bind");
            let port = listener.local_addr().expect("local addr").port();
            for client in clients {
                let to = SocketAddr::new(client.parse().expect("ip"), port);
                tokio::net::TcpStream::connect(to)
                    .await
                    .unwrap_or_else(|e| panic!("{any}: connect to {to}: {e}"));
                listener.accept().await.expect("accept");
            }
        }
        let v4 = bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let port = v4.local_addr().expect("local addr").port();
        let v6 = SocketAddr::new("::1".parse().expect("ip"), port);
        assert!(!v6_loopback || tokio::net::TcpStream::connect(v6).await.is_err());
    }
}
