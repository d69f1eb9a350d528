//! A demonstration merchant: a small bookshop with a catalogue, a cart and a "Pay with
//! sceau" button, the merchant's side of a payment confirmed with a seal, so that the
//! whole flow can be clicked through on one machine (`sceau demo --keep-serving`) and
//! driven by the browser tests.
//!
//! It is a separate web server, a merchant like any other: it knows sceau's address, its
//! API key and its webhook secret, creates a checkout server-to-server for the books in
//! the cart (priced from its own catalogue, never from the browser), sends the browser to
//! the payment page, and on return asks sceau (never the browser) whether the order was
//! paid. Its webhook endpoint checks the signature before believing anything. The cart
//! lives in the page's address (`/?cart=book,book`), so the shop keeps no session. It
//! knows nothing of sceau's server but its HTTP API; its pages are the templates in
//! `crates/sceau-shop/templates/` (askama: checked when built, every value escaped).

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// How far a webhook's timestamp may be from the shop's clock.
const WEBHOOK_TOLERANCE_S: i64 = 5 * 60;
/// Most webhook events the shop keeps in memory.
const EVENTS_MAX: usize = 1_000;

/// Most books in one cart.
pub const CART_BOOKS_MAX: usize = 20;
/// Longest description of an order sent to sceau (sceau's own limit on a checkout's
/// object: it is on the check and in the text to the client's phone).
const OBJECT_LEN_MAX: usize = 60;

/// A book the shop sells.
#[derive(Debug, PartialEq, Eq)]
pub struct Book {
    /// Its name in the shop's addresses: lowercase letters and hyphens.
    pub id: &'static str,
    pub title: &'static str,
    pub author: &'static str,
    /// Its price in euro cents.
    pub price_cents: u32,
}

const fn book(
    id: &'static str,
    title: &'static str,
    author: &'static str,
    price_cents: u32,
) -> Book {
    Book {
        id,
        title,
        author,
        price_cents,
    }
}

/// What the shop sells: the front table of a small French bookshop.
pub const CATALOGUE: [Book; 8] = [
    book("les-miserables", "Les Misérables", "Victor Hugo", 24_90),
    book(
        "monte-cristo",
        "Le Comte de Monte-Cristo",
        "Alexandre Dumas",
        25_00,
    ),
    book("madame-bovary", "Madame Bovary", "Gustave Flaubert", 8_90),
    book("l-etranger", "L'Étranger", "Albert Camus", 7_50),
    book(
        "le-petit-prince",
        "Le Petit Prince",
        "Antoine de Saint-Exupéry",
        9_90,
    ),
    book("chez-swann", "Du côté de chez Swann", "Marcel Proust", 9_80),
    book("les-annees", "Les Années", "Annie Ernaux", 10_40),
    book(
        "vingt-mille-lieues",
        "Vingt mille lieues sous les mers",
        "Jules Verne",
        6_90,
    ),
];

/// Euro cents as sceau writes amounts: `49.90`.
fn euros(cents: u32) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The books chosen, in the order first chosen, with how many copies of each.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Cart {
    lines: Vec<(&'static Book, u32)>,
}

impl Cart {
    /// The cart written in an address: book ids separated by commas, an id once per copy.
    /// `None` for a book the shop does not sell, or more than `CART_BOOKS_MAX` books.
    pub fn parse(text: &str) -> Option<Cart> {
        let mut cart = Cart::default();
        for id in text.split(',').filter(|id| !id.is_empty()) {
            let book = CATALOGUE.iter().find(|book| book.id == id)?;
            cart = cart.with(book)?;
        }
        Some(cart)
    }

    pub fn books(&self) -> usize {
        self.lines.iter().map(|(_, copies)| *copies as usize).sum()
    }

    /// The cart with one more copy of `book`; `None` if it would be too full.
    fn with(&self, book: &'static Book) -> Option<Cart> {
        if self.books() >= CART_BOOKS_MAX {
            return None;
        }
        let mut lines = self.lines.clone();
        match lines.iter_mut().find(|(line, _)| line.id == book.id) {
            Some((_, copies)) => *copies += 1,
            None => lines.push((book, 1)),
        }
        Some(Cart { lines })
    }

    /// The cart with one copy of `book` fewer.
    fn without(&self, book: &'static Book) -> Cart {
        let lines = self
            .lines
            .iter()
            .filter_map(|&(line, copies)| match line.id == book.id {
                true => (copies > 1).then_some((line, copies - 1)),
                false => Some((line, copies)),
            })
            .collect();
        Cart { lines }
    }

    /// The cart as its address writes it.
    fn text(&self) -> String {
        let ids: Vec<&str> = self
            .lines
            .iter()
            .flat_map(|(book, copies)| std::iter::repeat_n(book.id, *copies as usize))
            .collect();
        ids.join(",")
    }

    pub fn total_cents(&self) -> u32 {
        self.lines
            .iter()
            .map(|(book, copies)| book.price_cents * copies)
            .sum()
    }

    /// What the order is for, as the check and the client's phone show it: the titles
    /// if they fit, else the number of books.
    pub fn object(&self) -> String {
        let titles: Vec<String> = self
            .lines
            .iter()
            .map(|(book, copies)| match copies {
                1 => book.title.to_owned(),
                copies => format!("{copies} × {}", book.title),
            })
            .collect();
        let titles = titles.join(", ");
        if titles.chars().count() <= OBJECT_LEN_MAX {
            return titles;
        }
        match self.books() {
            1 => "1 book".to_owned(),
            books => format!("{books} books"),
        }
    }
}

/// The shop's clock: seconds since the Unix epoch (the tests share sceau's own clock,
/// which they move).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The computer's clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs() as i64)
            .unwrap_or(0)
    })
}

/// What the shop needs to know about sceau, as any merchant would.
#[derive(Clone)]
pub struct ShopConfig {
    pub name: String,
    /// sceau's address, e.g. `http://127.0.0.1:8080`.
    pub sceau_url: String,
    pub api_key: String,
    pub webhook_secret: String,
    pub clock: Clock,
}

#[derive(Clone)]
struct Shop {
    config: ShopConfig,
    /// This shop's own address, for the return and webhook addresses.
    address: String,
    http: reqwest::Client,
    /// Checkout ids of the verified webhooks received, with their event type.
    events: Arc<Mutex<Vec<(String, String)>>>,
}

/// A running shop.
pub struct RunningShop {
    pub address: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RunningShop {
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// Starts the shop on `listen` (loopback).
pub async fn start(config: ShopConfig, listen: SocketAddr) -> std::io::Result<RunningShop> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| {
            std::io::Error::new(error.kind(), format!("cannot listen on {listen}: {error}"))
        })?;
    let address = listener.local_addr()?;
    let shop = Shop {
        config,
        address: format!("http://{address}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap_or_default(),
        events: Arc::default(),
    };
    let app = Router::new()
        .route("/", get(catalogue))
        .route("/checkout", post(checkout))
        .route("/return", get(returned))
        .route("/webhooks", post(webhook))
        .with_state(shop);
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "demo shop stopped");
        }
    });
    Ok(RunningShop { address, task })
}

/// A book on the catalogue page, with the cart it would make.
struct Shelf {
    book: &'static Book,
    price: String,
    /// The cart with this book added; `None` when the cart is full.
    add: Option<String>,
}

/// A line of the cart: a book, its copies, what they cost, the cart with one fewer.
struct CartLine {
    book: &'static Book,
    copies: u32,
    amount: String,
    remove: String,
}

/// What a page of the shop says under its name.
enum Content<'a> {
    Shop {
        shelves: Vec<Shelf>,
        lines: Vec<CartLine>,
        /// The cart as its address writes it, for the payment form.
        cart: String,
        total: String,
    },
    /// A cart in the address holds a book the shop does not sell, or too many.
    NoSuchCart,
    NoOrder,
    Unknown,
    Paid {
        reference: &'a str,
        amount: &'a str,
        currency: &'a str,
    },
    NotPaid {
        reference: &'a str,
        state: &'a str,
    },
}

#[derive(Template)]
#[template(path = "shop.html")]
struct Page<'a> {
    name: &'a str,
    title: &'a str,
    content: Content<'a>,
    /// Whether sceau's signed notification about the order was received.
    webhook: bool,
}

/// A page of the shop, with its headers: inline style only, forms to itself or sceau.
fn page(shop: &Shop, title: &str, content: Content, webhook: bool) -> Response {
    let page = Page {
        name: &shop.config.name,
        title,
        content,
        webhook,
    };
    let Ok(html) = page.render() else {
        tracing::error!("demo shop: a page could not be rendered");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = Html(html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http: https:",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[derive(Deserialize)]
struct CartQuery {
    #[serde(default)]
    cart: String,
}

/// The catalogue and the cart in the address.
fn shop_content(cart: &Cart) -> Content<'static> {
    let shelves = CATALOGUE
        .iter()
        .map(|book| Shelf {
            book,
            price: euros(book.price_cents),
            add: cart.with(book).map(|cart| cart.text()),
        })
        .collect();
    let lines = cart
        .lines
        .iter()
        .map(|&(book, copies)| CartLine {
            book,
            copies,
            amount: euros(book.price_cents * copies),
            remove: cart.without(book).text(),
        })
        .collect();
    Content::Shop {
        shelves,
        lines,
        cart: cart.text(),
        total: euros(cart.total_cents()),
    }
}

async fn catalogue(State(shop): State<Shop>, Query(query): Query<CartQuery>) -> Response {
    match Cart::parse(&query.cart) {
        Some(cart) => page(&shop, "Books", shop_content(&cart), false),
        None => no_such_cart(&shop),
    }
}

fn no_such_cart(shop: &Shop) -> Response {
    let mut response = page(shop, "Books", Content::NoSuchCart, false);
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

async fn checkout(
    State(shop): State<Shop>,
    Form(form): Form<CartQuery>,
) -> Result<Response, StatusCode> {
    let Some(cart) = Cart::parse(&form.cart).filter(|cart| cart.books() > 0) else {
        return Ok(no_such_cart(&shop));
    };
    let order = hex::encode(sceau_crypto::random_bytes::<6>());
    let body = serde_json::json!({
        "amount": euros(cart.total_cents()), "currency": "EUR", "reference": format!("order-{order}"),
        "object": cart.object(),
        "return_url": format!("{}/return", shop.address),
        "webhook_url": format!("{}/webhooks", shop.address),
    });
    let answer = shop
        .http
        .post(format!("{}/v1/checkouts", shop.config.sceau_url))
        .bearer_auth(&shop.config.api_key)
        .header("idempotency-key", format!("order-{order}"))
        .json(&body)
        .send()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    if answer.status() != StatusCode::CREATED {
        tracing::warn!(
            status = answer.status().as_u16(),
            "demo shop: checkout refused"
        );
        return Err(StatusCode::BAD_GATEWAY);
    }
    let created: serde_json::Value = answer.json().await.map_err(|_| StatusCode::BAD_GATEWAY)?;
    let url = created["url"].as_str().ok_or(StatusCode::BAD_GATEWAY)?;
    let mut response = Redirect::to(url).into_response();
    *response.status_mut() = StatusCode::SEE_OTHER;
    Ok(response)
}

#[derive(Deserialize)]
struct ReturnQuery {
    checkout: Option<String>,
}

/// The client is back: ask sceau how the checkout ended (the address proves nothing).
async fn returned(State(shop): State<Shop>, Query(query): Query<ReturnQuery>) -> Response {
    let Some(id) = query
        .checkout
        .filter(|id| id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    else {
        return page(&shop, "Order", Content::NoOrder, false);
    };
    let answer = shop
        .http
        .get(format!("{}/v1/checkouts/{id}", shop.config.sceau_url))
        .bearer_auth(&shop.config.api_key)
        .send()
        .await;
    let checkout: Option<serde_json::Value> = match answer {
        Ok(answer) if answer.status().is_success() => answer.json().await.ok(),
        _ => None,
    };
    let Some(checkout) = checkout else {
        return page(&shop, "Order", Content::Unknown, false);
    };
    let told = shop
        .events
        .lock()
        .map(|events| events.iter().any(|(checkout_id, _)| *checkout_id == id))
        .unwrap_or(false);
    let text = |key: &str| checkout[key].as_str().unwrap_or_default();
    let content = if checkout["paid"] == true {
        Content::Paid {
            reference: text("reference"),
            amount: text("amount"),
            currency: text("currency"),
        }
    } else {
        Content::NotPaid {
            reference: text("reference"),
            state: text("state"),
        }
    };
    page(&shop, "Order", content, told)
}

/// Checks a `Sceau-Signature: t=…,v1=…` header against the raw body.
pub fn verify_signature(secret: &str, header: &str, body: &[u8], now_s: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return false;
    };
    if now_s.abs_diff(timestamp) > WEBHOOK_TOLERANCE_S.unsigned_abs() {
        return false;
    }
    let expected = sceau_crypto::webhook_signature(secret, timestamp, body);
    signatures
        .iter()
        .any(|signature| sceau_crypto::constant_time_eq(signature.as_bytes(), expected.as_bytes()))
}

async fn webhook(State(shop): State<Shop>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = headers
        .get("sceau-signature")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !verify_signature(
        &shop.config.webhook_secret,
        header,
        &body,
        (shop.config.clock)(),
    ) {
        tracing::warn!("demo shop: webhook with a bad signature refused");
        return StatusCode::BAD_REQUEST;
    }
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let id = event["checkout_id"].as_str().unwrap_or_default().to_owned();
    let kind = event["type"].as_str().unwrap_or_default().to_owned();
    if let Ok(mut events) = shop.events.lock()
        && events.len() < EVENTS_MAX
    {
        events.push((id, kind));
    }
    StatusCode::NO_CONTENT
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_sceau_answers() {
        let hostile = "<script>alert(\"x\")</script> & 'y'";
        let escaped = "&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;y&#39;";
        let contents = [
            Content::Paid {
                reference: hostile,
                amount: hostile,
                currency: hostile,
            },
            Content::NotPaid {
                reference: hostile,
                state: hostile,
            },
        ];
        for content in contents {
            let html = Page {
                name: hostile,
                title: hostile,
                content,
                webhook: true,
            }
            .render()
            .unwrap();
            assert!(html.contains(&format!("<title>{escaped} · {escaped}</title>")));
            assert!(html.contains(&format!("rder {escaped} is")), "{html}");
            assert!(!html.contains("<script"), "{html}");
            assert!(!html.contains("\"x\""), "{html}");
            assert!(html.contains("id=\"webhook\""));
        }
    }

    fn check_cart(text: &str, expected: Option<(&str, &str, &str)>) {
        let cart = Cart::parse(text);
        let found = cart
            .as_ref()
            .map(|cart| (cart.text(), euros(cart.total_cents()), cart.object()));
        let expected = expected
            .map(|(text, total, object)| (text.to_owned(), total.to_owned(), object.to_owned()));
        assert_eq!(found, expected, "{text:?}");
    }

    #[test]
    fn carts_are_priced_from_the_catalogue() {
        check_cart("", Some(("", "0.00", "")));
        check_cart("l-etranger", Some(("l-etranger", "7.50", "L'Étranger")));
        check_cart(
            "les-miserables,monte-cristo",
            Some((
                "les-miserables,monte-cristo",
                "49.90",
                "Les Misérables, Le Comte de Monte-Cristo",
            )),
        );
        // Copies of one book are counted together, in the order first chosen.
        check_cart(
            "l-etranger,madame-bovary,l-etranger",
            Some((
                "l-etranger,l-etranger,madame-bovary",
                "23.90",
                "2 × L'Étranger, Madame Bovary",
            )),
        );
        check_cart(",,l-etranger,", Some(("l-etranger", "7.50", "L'Étranger")));
        // Too long a list of titles for the check: the number of books.
        let many = "les-miserables,monte-cristo,chez-swann,vingt-mille-lieues";
        check_cart(many, Some((many, "66.60", "4 books")));
        let full = vec!["l-etranger"; CART_BOOKS_MAX].join(",");
        check_cart(&full, Some((&full, "150.00", "20 × L'Étranger")));
        // What the shop does not sell, or too many books: no cart.
        check_cart("l-etranger,the-hobbit", None);
        check_cart(&format!("{full},l-etranger"), None);
        check_cart("L-ETRANGER", None);
        let cart = Cart::parse(&full).unwrap();
        assert_eq!(cart.with(&CATALOGUE[0]), None, "full");
        let fewer = cart.without(&CATALOGUE[3]);
        assert_eq!(fewer.books(), CART_BOOKS_MAX - 1);
        assert_eq!(fewer.without(&CATALOGUE[0]), fewer, "not in the cart");
        assert_eq!(
            Cart::parse("l-etranger").unwrap().without(&CATALOGUE[3]),
            Cart::default()
        );
    }

    /// Whatever the cart, what the order is for passes sceau's rule for a checkout's
    /// object (length, no quotation marks), and every book has a believable price.
    #[test]
    fn every_order_is_one_sceau_accepts() {
        for (index, book) in CATALOGUE.iter().enumerate() {
            assert!((5_00..=40_00).contains(&book.price_cents), "{book:?}");
            assert!(
                book.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{book:?}"
            );
            assert_eq!(
                CATALOGUE.iter().position(|other| other.id == book.id),
                Some(index),
                "{book:?}"
            );
            for other in &CATALOGUE {
                for copies in 1..=3 {
                    let mut cart = Cart::parse(book.id).unwrap();
                    for _ in 0..copies {
                        cart = cart.with(other).unwrap();
                    }
                    sceau_domain::text::OBJECT
                        .check(&cart.object())
                        .unwrap_or_else(|error| panic!("{:?}: {error}", cart.object()));
                }
            }
        }
    }

    #[test]
    fn the_shop_page_lists_the_books_and_the_cart() {
        let render = |cart: &str| {
            Page {
                name: "Librairie",
                title: "Books",
                content: shop_content(&Cart::parse(cart).unwrap()),
                webhook: false,
            }
            .render()
            .unwrap()
        };
        let empty = render("");
        for book in &CATALOGUE {
            let title = book.title.replace('\'', "&#39;");
            assert!(empty.contains(&format!("<cite>{title}</cite>")), "{empty}");
            assert!(empty.contains(book.author), "{empty}");
            assert!(
                empty.contains(&format!("{} EUR", euros(book.price_cents))),
                "{empty}"
            );
            assert!(empty.contains(&format!("value=\"{}\"", book.id)), "{empty}");
        }
        assert!(empty.contains("id=\"empty\""));
        assert!(!empty.contains("id=\"pay\""), "nothing to pay");
        let two = render("les-miserables,monte-cristo");
        assert!(two.contains("<span id=\"total\">49.90 EUR</span>"), "{two}");
        assert!(
            two.contains("name=\"cart\" value=\"les-miserables,monte-cristo\"><button type=\"submit\" id=\"pay\""),
            "{two}"
        );
        assert!(two.contains("value=\"monte-cristo\"><button type=\"submit\" class=\"remove\" id=\"remove-les-miserables\""), "{two}");
    }

    #[test]
    fn webhook_signatures_are_checked_with_time_and_body() {
        let secret = "whsec_test";
        let body = br#"{"type":"checkout.paid"}"#;
        let signature = sceau_crypto::webhook_signature(secret, 1_000, body);
        let header = format!("t=1000,v1={signature}");
        assert!(verify_signature(secret, &header, body, 1_000));
        assert!(verify_signature(
            secret,
            &header,
            body,
            1_000 + WEBHOOK_TOLERANCE_S
        ));
        assert!(
            !verify_signature(secret, &header, body, 1_001 + WEBHOOK_TOLERANCE_S),
            "too old"
        );
        assert!(
            !verify_signature(secret, &header, b"{}", 1_000),
            "other body"
        );
        assert!(
            !verify_signature("whsec_other", &header, body, 1_000),
            "other secret"
        );
        assert!(
            !verify_signature(secret, &format!("t=1001,v1={signature}"), body, 1_000),
            "other time"
        );
        assert!(!verify_signature(secret, "v1=00", body, 1_000));
        assert!(!verify_signature(secret, "", body, 1_000));
        let extreme = format!("t={},v1={signature}", i64::MIN);
        assert!(
            !verify_signature(secret, &extreme, body, i64::MAX),
            "no overflow"
        );
    }
}
