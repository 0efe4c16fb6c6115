//! Lessons (issue 10): so far the checks engine, predicates over a snapshot's JSON that turn
//! a lesson step green with the measured value. Lesson files, the picker and running steps
//! against the live session come later.

pub mod check;
