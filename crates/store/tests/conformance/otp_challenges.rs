//! One-time-code challenges: one per session and channel, replaced by the next, used up exactly
//! once, gone with their session.

use std::sync::Arc;

use lanyard_domain::{OtpChallenge, OtpChannel, TokenDigest};
use lanyard_store::Store;
use uuid::Uuid;

use crate::common::*;

fn challenge(session_id: Uuid, channel: OtpChannel, code: &str) -> OtpChallenge {
    OtpChallenge {
        session_id,
        channel,
        digest: TokenDigest::of(code),
        expires_at: at(5 * MINUTE),
    }
}

pub async fn otp_challenges_are_kept_per_channel_replaced_and_used_up_once(store: Arc<dyn Store>) {
    let store = &*store;
    let s = insert(store, session(None, NOW)).await;
    let sms = challenge(s.id, OtpChannel::Sms, "12345678");
    let email = challenge(s.id, OtpChannel::Email, "87654321");
    store.put_otp_challenge(&sms, NOW).await.unwrap();
    store.put_otp_challenge(&email, NOW).await.unwrap();
    assert_eq!(
        store.otp_challenge(s.id, OtpChannel::Sms).await.unwrap().as_ref(),
        Some(&sms)
    );
    assert_eq!(
        store.otp_challenge(s.id, OtpChannel::Email).await.unwrap().as_ref(),
        Some(&email)
    );

    let newer = OtpChallenge {
        expires_at: at(10 * MINUTE),
        ..challenge(s.id, OtpChannel::Sms, "11112222")
    };
    store.put_otp_challenge(&newer, NOW).await.unwrap();
    assert_eq!(
        store.otp_challenge(s.id, OtpChannel::Sms).await.unwrap().as_ref(),
        Some(&newer)
    );
    assert!(
        !store
            .consume_otp_challenge(s.id, OtpChannel::Sms, &sms.digest)
            .await
            .unwrap(),
        "the replaced code no longer works"
    );
    assert!(store
        .consume_otp_challenge(s.id, OtpChannel::Sms, &newer.digest)
        .await
        .unwrap());
    assert!(!store
        .consume_otp_challenge(s.id, OtpChannel::Sms, &newer.digest)
        .await
        .unwrap());
    assert_eq!(store.otp_challenge(s.id, OtpChannel::Sms).await.unwrap(), None);
    assert_eq!(
        store.otp_challenge(s.id, OtpChannel::Email).await.unwrap().as_ref(),
        Some(&email),
        "the other channel keeps its code"
    );
}

pub async fn concurrent_uses_of_one_code_let_exactly_one_win(store: Arc<dyn Store>) {
    let s = insert(&*store, session(None, NOW)).await;
    let sms = challenge(s.id, OtpChannel::Sms, "12345678");
    store.put_otp_challenge(&sms, NOW).await.unwrap();
    let attempts = (0..8).map(|_| {
        let store = store.clone();
        let digest = sms.digest;
        tokio::spawn(async move {
            store
                .consume_otp_challenge(s.id, OtpChannel::Sms, &digest)
                .await
                .unwrap()
        })
    });
    let mut wins = 0;
    for attempt in attempts {
        wins += usize::from(attempt.await.unwrap());
    }
    assert_eq!(wins, 1);
}

pub async fn setting_a_challenge_forgets_the_expired_ones(store: Arc<dyn Store>) {
    let store = &*store;
    let old = insert(store, session(None, NOW)).await;
    let new = insert(store, session(None, NOW)).await;
    let expired = OtpChallenge {
        expires_at: at(-SECOND),
        ..challenge(old.id, OtpChannel::Email, "12345678")
    };
    let at_now = OtpChallenge {
        expires_at: NOW,
        ..challenge(old.id, OtpChannel::Sms, "12345678")
    };
    let live = challenge(new.id, OtpChannel::Sms, "12345678");
    for c in [&expired, &at_now, &live] {
        store.put_otp_challenge(c, at(-HOUR)).await.unwrap();
    }
    store
        .put_otp_challenge(&challenge(new.id, OtpChannel::Email, "87654321"), NOW)
        .await
        .unwrap();
    assert_eq!(store.otp_challenge(old.id, OtpChannel::Email).await.unwrap(), None);
    assert_eq!(
        store.otp_challenge(old.id, OtpChannel::Sms).await.unwrap(),
        None,
        "expired at now"
    );
    assert_eq!(
        store.otp_challenge(new.id, OtpChannel::Sms).await.unwrap().as_ref(),
        Some(&live)
    );
}
