//! Prints the README's key table from the one keymap (`cargo run --example keytable`); a test
//! (`tui::keymap::tests::readme_key_table_is_the_keymap`) checks the README holds it.
fn main() {
    print!("{}", mmviz::tui::keymap::markdown_table());
    println!();
    print!("{}", mmviz::tui::keymap::replay_markdown_table());
}
