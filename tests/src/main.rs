fn main() {
    std::process::exit(attrclust::main_with_args(std::env::args_os()))
}
