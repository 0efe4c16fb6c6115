use super::*;

#[test]
fn runs_table() {
    type Case<'a> = (&'a [u64], &'a [(u64, u64)]);
    let table: &[Case] = &[
        (&[], &[]),
        (&[5], &[(5, 1)]),
        (&[1, 2, 3, 7, 8, 10], &[(1, 3), (7, 2), (10, 1)]),
        (&[1, 1, 2], &[(1, 2)]),
    ];
    for (pages, want) in table {
        assert_eq!(to_runs(pages), want.to_vec());
    }
}
