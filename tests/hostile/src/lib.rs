//! A component with the plugin's world that misbehaves on demand: `verify` with
//! the code `LOOP`, `BOMB`, `HUGE`, `EVENTS`, `LONGCODE`, `TRAP` or `STACK`
//! spins forever, allocates without bound, returns an oversized credential,
//! event list or replacement code, traps, or overflows its stack. Everything else answers like a (trivial) plugin
//! so the shim starts and enrols subjects. Built from source by the harness.
#![deny(unsafe_code)]

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, clippy::panic, missing_docs)]
mod bindings {
    wit_bindgen::generate!({ world: "plugin", path: "../../wit", generate_all });

    use exports::authn::backup_codes::engine::{
        CodeOrder, CredentialStatus, Error, Event, ForeignSet, Guest, HashParams, Imported,
        Issuance, IssuedCode, Lock, Outcome, Policy, SetRef, Verification,
    };

    struct Hostile;

    #[allow(unconditional_recursion)]
    fn recurse(depth: u64) -> u64 {
        let frame = [depth; 64];
        std::hint::black_box(&frame);
        recurse(depth + 1) + frame[0]
    }

    impl Guest for Hostile {
        fn default_policy() -> Policy {
            Policy {
                count: 2,
                symbols: 13,
                group_size: 5,
                order: CodeOrder::AnyOrder,
                hash: HashParams {
                    memory_kib: 1024,
                    iterations: 1,
                    parallelism: 1,
                },
                require_activation: false,
                free_failures: 5,
                lockout_base_seconds: 30,
                lockout_max_seconds: 3600,
                max_failures: 100,
                low_water: 0,
                replace_on_use: false,
            }
        }

        fn issue(
            _current: Option<Vec<u8>>,
            _policy: Policy,
            _pepper: Option<Vec<u8>>,
        ) -> Result<Issuance, Error> {
            Ok(Issuance {
                credential: b"hostile".to_vec(),
                codes: vec![IssuedCode {
                    number: 1,
                    code: "LOOP".into(),
                }],
                set_id: "HOSTILE".into(),
                fingerprint: "HOST".into(),
                events: Vec::new(),
            })
        }

        fn activate(
            current: Vec<u8>,
            _set_id: Option<String>,
            code: String,
            policy: Policy,
            pepper: Option<Vec<u8>>,
        ) -> Result<Verification, Error> {
            Self::verify(current, None, code, policy, pepper)
        }

        fn interrupted(_current: Vec<u8>, _policy: Policy) -> Result<Verification, Error> {
            // Refused: the host must still have failed the attempt closed.
            Err(Error::MalformedCredential)
        }

        fn verify(
            current: Vec<u8>,
            _replaced: Option<Vec<u8>>,
            code: String,
            _policy: Policy,
            _pepper: Option<Vec<u8>>,
        ) -> Result<Verification, Error> {
            let mut events = Vec::new();
            let mut credential = current;
            let mut replacement = None;
            let mut set_id = String::from("HOSTILE");
            match code.as_str() {
                "LOOP" => loop {
                    std::hint::black_box(&credential);
                },
                "BOMB" => {
                    let mut hoard: Vec<Vec<u8>> = Vec::new();
                    loop {
                        hoard.push(vec![1u8; 1 << 20]);
                        std::hint::black_box(&hoard);
                    }
                }
                "HUGE" => credential = vec![7u8; 8 << 20],
                "EVENTS" => {
                    events = (0..10_000)
                        .map(|_| {
                            Event::Exhausted(SetRef {
                                set_id: "X".repeat(100),
                            })
                        })
                        .collect();
                }
                "LONGCODE" => {
                    replacement = Some(IssuedCode {
                        number: 1,
                        code: "X".repeat(1 << 20),
                    });
                }
                "LONGID" => set_id = "X".repeat(1 << 20),
                "TRAP" => panic!("hostile plugin traps on purpose"),
                "STACK" => {
                    std::hint::black_box(recurse(0));
                }
                _ => {}
            }
            Ok(Verification {
                credential,
                outcome: Outcome::Accepted(1),
                remaining: 1,
                events,
                replacement,
                set_id,
                fingerprint: "HOST".into(),
                low: false,
                exhausted: false,
                next_number: None,
                consecutive_failures: 0,
                lock: Lock::Open,
                replaced_set: false,
            })
        }

        fn status(_current: Vec<u8>, _policy: Policy) -> Result<CredentialStatus, Error> {
            Err(Error::MalformedCredential)
        }

        fn import_set(
            _set: ForeignSet,
            _policy: Policy,
            _pepper: Option<Vec<u8>>,
        ) -> Result<Imported, Error> {
            // An oversized credential, which the host must refuse.
            Ok(Imported {
                credential: vec![7u8; 8 << 20],
                set_id: "HOSTILE".into(),
                fingerprint: "HOST".into(),
                legacy: false,
                events: Vec::new(),
            })
        }
    }

    export!(Hostile);
}
