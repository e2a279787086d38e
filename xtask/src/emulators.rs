//! `cargo xtask emulators`: the test emulators for manual runs, until Ctrl-C.

use angzarr_testkit::emulators;
use anyhow::Result;

pub(crate) fn run() -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        println!("starting the emulators on 127.0.0.1 ...");
        let (moto, pubsub, bigtable, redis) = tokio::join!(
            emulators::moto(),
            emulators::pubsub(),
            emulators::bigtable(),
            emulators::redis()
        );
        let all = [moto, pubsub, bigtable, redis];
        println!();
        for emulator in all {
            println!(
                "{:<20} {}",
                emulator.kind().to_string(),
                emulator.endpoint()
            );
        }
        println!("\n# point clients at them:");
        for emulator in all {
            let (name, value) = emulator.env();
            println!("export {name}={value}");
        }
        println!("export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1");
        println!("\nrunning; Ctrl-C stops them");
        tokio::signal::ctrl_c().await?;
        // The emulators die with this process (see angzarr_testkit::emulators).
        println!("stopping");
        Ok(())
    })
}
