//! Identities with S/Kademlia work, generated with the OS randomness of the node.

use gofast_core::identity::KeyPair;

#[test]
fn identities_with_work_cost_about_two_to_the_bits() {
    let mut rng = gofast_node::rng::os_rng();
    let k = KeyPair::generate_with_work(&mut rng, 6, 100_000).expect("found within 100,000 tries");
    assert!(k.peer_id().work_bits() >= 6);
    assert!(
        KeyPair::generate_with_work(&mut rng, 200, 3).is_none(),
        "bounded by max_attempts"
    );
}
