//! Our t-SNE against scikit-learn's on the first 500 digits (tests/fixtures/tsne_reference.json,
//! made by tests/fixtures/make_tsne_reference.py): trustworthiness (k = 10) at least
//! scikit-learn's − 0.01, and KL divergence at most scikit-learn's × 1.05, for the exact and the
//! Barnes-Hut method (each KL against its own P, as scikit-learn reports it). The FFT method is
//! held to openTSNE's numbers the same way.

use attrclust_metrics::trustworthiness;
use attrclust_testdata::{fixture, matrix};
use attrclust_tsne::{Method, Tsne};

#[test]
fn matches_or_beats_scikit_learn_and_opentsne_on_digits() {
    let r = fixture("tsne_reference.json");
    let x = matrix(&r["X"]);
    let k = r["trustworthiness_n_neighbors"].as_u64().unwrap() as usize;
    let cases = [
        (Method::Exact, "sklearn_exact"),
        (Method::BarnesHut, "sklearn_barnes_hut"),
        (Method::Fft, "opentsne_fft"),
    ];
    // The three runs side by side: at n = 500 each keeps few parallel chunks busy.
    let runs: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|&(method, _)| {
                let x = &x;
                s.spawn(move || {
                    let tsne = Tsne {
                        method,
                        ..Tsne::default()
                    };
                    tsne.embed(x.view(), 0, &|_| {}).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for ((method, key), e) in cases.iter().zip(runs) {
        let reference = &r[key];
        let trust = trustworthiness(x.view(), e.y.view(), k);
        let (ref_trust, ref_kl) = (
            reference["trustworthiness"].as_f64().unwrap(),
            reference["kl_divergence"].as_f64().unwrap(),
        );
        eprintln!(
            "{method:?}: trustworthiness {trust:.4} (reference {ref_trust:.4}), KL {:.4} (reference {ref_kl:.4})",
            e.kl_divergence
        );
        assert!(
            trust >= ref_trust - 0.01,
            "{method:?}: trustworthiness {trust} vs {ref_trust}"
        );
        assert!(
            e.kl_divergence <= ref_kl * 1.05,
            "{method:?}: KL {} vs {ref_kl}",
            e.kl_divergence
        );
    }
}
