use mq::job;

#[job]
struct NotAFunction;

fn main() {}
