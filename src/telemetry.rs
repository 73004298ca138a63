//! Logging set-up: env_logger, `info` by default, `RUST_LOG` to change it.

pub fn init() {
    let env = env_logger::Env::default().default_filter_or("info");
    // try_init: tests may call this more than once.
    let _ = env_logger::Builder::from_env(env).try_init();
}
