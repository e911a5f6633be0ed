//! A bare TCP relay for the benchmark suite: every connection it accepts is
//! joined to a new connection to `--upstream`, and bytes are copied both
//! ways until either side closes.
//!
//! It reads no HTTP, so placed between a client and the mock upstream it adds
//! only what every proxy adds: two more loopback hops per request, and a
//! process to wake for each. Its overhead on a cache miss is the floor for
//! badgegate's on the same machine.
//!
//! Usage: `relay --upstream ADDR [--listen ADDR]`, listening on
//! `127.0.0.1:8092` by default. One thread serves every connection, as one
//! badgegate worker serves a connection.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

const USAGE: &str = "usage: relay --upstream ADDR [--listen ADDR]";

struct Options {
    listen: SocketAddr,
    upstream: SocketAddr,
}

fn parse_options() -> Result<Options, String> {
    let mut listen: SocketAddr = "127.0.0.1:8092"
        .parse()
        .expect("the default address is valid");
    let mut upstream = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let name = arg.as_str();
        let text = match name {
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "--listen" | "--upstream" => {
                args.next().ok_or_else(|| format!("{name} needs a value"))?
            }
            other => return Err(format!("unknown argument `{other}`; {USAGE}")),
        };
        let address = text
            .parse()
            .map_err(|error| format!("{name} `{text}` is not ADDRESS:PORT: {error}"))?;
        match name {
            "--listen" => listen = address,
            _ => upstream = Some(address),
        }
    }
    let upstream = upstream.ok_or_else(|| format!("--upstream is missing; {USAGE}"))?;
    Ok(Options { listen, upstream })
}

/// Copies bytes between `client` and a new connection to `upstream` until
/// either side closes.
async fn relay(mut client: TcpStream, upstream: SocketAddr) {
    let mut server = match TcpStream::connect(upstream).await {
        Ok(server) => server,
        Err(error) => {
            eprintln!("relay: cannot connect to {upstream}: {error}");
            return;
        }
    };
    // Requests and responses are small, so each is sent at once, as a
    // proxy tuned for latency sends them.
    for stream in [&client, &server] {
        if let Err(error) = stream.set_nodelay(true) {
            eprintln!("relay: cannot set TCP_NODELAY: {error}");
        }
    }
    if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut server).await {
        eprintln!("relay: a connection ended with an error: {error}");
    }
}

fn main() {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    if let Err(error) = serve(&options) {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

/// Accepts connections on `options.listen` and relays each until the
/// process ends.
fn serve(options: &Options) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(options.listen).await.map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("cannot listen on {}: {error}", options.listen),
            )
        })?;
        eprintln!(
            "relay: listening on {}, relaying to {}",
            options.listen, options.upstream
        );
        loop {
            match listener.accept().await {
                Ok((client, _)) => {
                    tokio::spawn(relay(client, options.upstream));
                }
                Err(error) => {
                    // Out of file descriptors, for one: the open connections
                    // go on, and accepting resumes once some close.
                    eprintln!("relay: cannot accept a connection: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    })
}
