//! The demo bookshop's cart as an address carries it (`?cart=id,id,…`): never a panic, a
//! cart that parses holds books of the catalogue only, never more than the cart holds,
//! priced from the catalogue, with an object sceau accepts on a check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sceau_shop::{CART_BOOKS_MAX, CATALOGUE, Cart};

fuzz_target!(|data: &[u8]| {
    // Half the inputs are read as they come; the other half name books of the catalogue
    // by their bytes (one more value for an id the shop does not sell, one for an empty
    // entry), so that the fuzzer reaches carts that parse.
    let text = match data.split_first() {
        Some((first, rest)) if first % 2 == 1 => rest
            .iter()
            .map(|byte| match usize::from(*byte) % (CATALOGUE.len() + 2) {
                at if at < CATALOGUE.len() => CATALOGUE[at].id,
                at if at == CATALOGUE.len() => "no-such-book",
                _ => "",
            })
            .collect::<Vec<_>>()
            .join(","),
        _ => match std::str::from_utf8(data) {
            Ok(text) => text.to_owned(),
            Err(_) => return,
        },
    };
    let text = text.as_str();
    let Some(cart) = Cart::parse(text) else {
        return;
    };
    let ids: Vec<&str> = text.split(',').filter(|id| !id.is_empty()).collect();
    assert_eq!(cart.books(), ids.len());
    assert!(cart.books() <= CART_BOOKS_MAX);
    let expected: u32 = ids
        .iter()
        .map(|id| {
            CATALOGUE
                .iter()
                .find(|book| book.id == *id)
                .unwrap()
                .price_cents
        })
        .sum();
    assert_eq!(cart.total_cents(), expected);
    let object = cart.object();
    assert!(object.is_empty() == (cart.books() == 0));
    assert!(object.chars().count() <= 60, "{object}");
});
