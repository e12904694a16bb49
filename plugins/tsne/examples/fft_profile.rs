use attrclust_core::rng::Rng;
use attrclust_tsne::fft::FftRepulsion;
use attrclust_tsne::kernel::Kernel;
use rustfft::{FftPlanner, num_complex::Complex};
use std::time::Instant;
fn main() {
    let mut rng = Rng::new(1);
    for (n, span) in [(2000usize, 10.0), (20000, 100.0)] {
        let y: Vec<f64> = (0..2 * n).map(|_| rng.uniform() * span).collect();
        let mut f = FftRepulsion::default();
        f.repulsion(&y, Kernel::new(1.0));
        let t = Instant::now();
        for _ in 0..20 {
            f.repulsion(&y, Kernel::new(1.0));
        }
        println!(
            "n={n} span={span}: {:.2} ms/call",
            t.elapsed().as_secs_f64() * 50.0
        );
    }
    for m in [300usize, 600] {
        let mut p = FftPlanner::<f64>::new();
        let fft = p.plan_fft_forward(m);
        let mut buf = vec![Complex::new(1.0, 0.0); m * m];
        let t = Instant::now();
        for _ in 0..20 {
            fft.process(&mut buf);
        }
        println!(
            "m={m}: {:.3} ms per m rows",
            t.elapsed().as_secs_f64() * 50.0
        );
    }
}
