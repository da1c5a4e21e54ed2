use std::time::Duration;

/// Tunables of the hub. Defaults suit production; tests shorten the timers.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// A call nobody answers ends after this long (missed call for the callee).
    pub ring_timeout: Duration,
    /// A device whose connection broke stays (presence, calls) this long for a resume.
    pub resume_grace: Duration,
    /// How often the server pings every connection.
    pub heartbeat_interval: Duration,
    /// A connection silent (no frame, no pong) this long is considered dead.
    pub heartbeat_timeout: Duration,
    /// Events kept per device for replay on resume.
    pub replay_buffer: usize,
    /// Sustained messages per second allowed per connection...
    pub rate_per_sec: f64,
    /// ...with bursts up to this many.
    pub rate_burst: f64,
    /// Refused messages in a row after which the connection is closed.
    pub rate_strikes_to_close: u32,
    /// Sustained chat posts (send, edit, delete) per second allowed per user...
    pub chat_rate_per_sec: f64,
    /// ...with bursts up to this many.
    pub chat_burst: f64,
    /// Only contacts may call each other (otherwise any user who has not blocked the other).
    /// The same rule applies to offering a file person to person.
    pub calls_only_between_contacts: bool,
    /// A file offered person to person and neither accepted nor declined expires after this.
    pub file_offer_timeout: Duration,
    /// A transfer whose receiving device went away (a page reload) waits this long for
    /// another device of the receiver to take it over (`file_resume`).
    pub file_resume_grace: Duration,
    /// A socket that has not said `hello` this long after opening is closed.
    pub hello_timeout: Duration,
    /// Most sockets one user may have open at once (over all their sessions)...
    pub max_sockets_per_user: usize,
    /// ...and one session (one browser).
    pub max_sockets_per_session: usize,
    /// The first call id this hub hands out. The driver sets it above every id an earlier
    /// run of the server can have handed out (it derives it from the clock), so a claim to
    /// rejoin a call after a restart is told apart from a call of this run.
    pub first_call_id: proto::ws::CallId,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            ring_timeout: Duration::from_secs(45),
            resume_grace: Duration::from_secs(15),
            heartbeat_interval: Duration::from_secs(20),
            heartbeat_timeout: Duration::from_secs(50),
            replay_buffer: 256,
            rate_per_sec: 30.0,
            rate_burst: 120.0,
            rate_strikes_to_close: 200,
            chat_rate_per_sec: 20.0,
            chat_burst: 60.0,
            calls_only_between_contacts: true,
            file_offer_timeout: Duration::from_secs(600),
            file_resume_grace: Duration::from_secs(120),
            hello_timeout: Duration::from_secs(10),
            max_sockets_per_user: 16,
            max_sockets_per_session: 16,
            first_call_id: 1,
        }
    }
}
