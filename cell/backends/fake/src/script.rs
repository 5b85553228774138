//! A tiny shell-like interpreter so tests script processes the way they would on runc:
//! `sh -c "echo hi; sleep 0.1; exit 3"`.
//!
//! Commands: `echo WORDS [>&2 | > FILE | >> FILE]`, `cat FILE`, `sleep SECS`, `exit N`,
//! `true`, `false`, `env`, `whoami`, `trap '' TERM` (ignore SIGTERM), `oom` (killed by the
//! OOM killer, status 137), `serve` (run until signalled). Any other program also runs
//! until signalled, like an app server would.

/// Splits on whitespace, honouring single and double quotes.
pub fn tokenize(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Echo {
        text: String,
        to: Redirect,
    },
    Cat(String),
    Sleep(f64),
    Exit(i32),
    IgnoreTerm,
    Oom,
    Env,
    WhoAmI,
    /// Runs until signalled.
    Serve,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Redirect {
    Stdout,
    Stderr,
    File { path: String, append: bool },
}

fn parse_command(words: &[String]) -> Option<Command> {
    let (program, args) = words.split_first()?;
    let name = program.rsplit('/').next().unwrap_or(program);
    Some(match name {
        "echo" => {
            let mut to = Redirect::Stdout;
            let mut text = Vec::new();
            let mut it = args.iter();
            while let Some(a) = it.next() {
                match a.as_str() {
                    ">&2" | "1>&2" => to = Redirect::Stderr,
                    ">" | ">>" => {
                        let path = it.next().cloned().unwrap_or_default();
                        to = Redirect::File {
                            path,
                            append: a == ">>",
                        };
                    }
                    _ => text.push(a.clone()),
                }
            }
            Command::Echo {
                text: text.join(" "),
                to,
            }
        }
        "cat" => Command::Cat(args.first().cloned().unwrap_or_default()),
        "sleep" => Command::Sleep(args.first().and_then(|a| a.parse().ok()).unwrap_or(0.0)),
        "exit" => Command::Exit(args.first().and_then(|a| a.parse().ok()).unwrap_or(0)),
        "true" => Command::Exit(0),
        "false" => Command::Exit(1),
        "trap" => Command::IgnoreTerm,
        "oom" => Command::Oom,
        "env" => Command::Env,
        "whoami" => Command::WhoAmI,
        _ => Command::Serve,
    })
}

/// `path args` -> commands: `sh -c SCRIPT` is parsed as a script, anything else as one command.
pub fn parse(path: &str, args: &[String]) -> Vec<Command> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if (name == "sh" || name == "bash") && args.first().map(String::as_str) == Some("-c") {
        let script = args.get(1).cloned().unwrap_or_default();
        return parse_script(&script);
    }
    let mut words = vec![path.to_string()];
    words.extend(args.iter().cloned());
    parse_command(&words).into_iter().collect()
}

pub fn parse_script(script: &str) -> Vec<Command> {
    script
        .split(['\n', ';'])
        .flat_map(|part| part.split("&&"))
        .filter_map(|part| parse_command(&tokenize(part)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scripts() {
        let cmds = parse(
            "/bin/sh",
            &["-c".into(), "echo 'a b' > /tmp/x; sleep 0.5; exit 3".into()],
        );
        assert_eq!(
            cmds,
            vec![
                Command::Echo {
                    text: "a b".into(),
                    to: Redirect::File {
                        path: "/tmp/x".into(),
                        append: false
                    }
                },
                Command::Sleep(0.5),
                Command::Exit(3)
            ]
        );
        assert_eq!(
            parse("/bin/echo", &["hi".into()]),
            vec![Command::Echo {
                text: "hi".into(),
                to: Redirect::Stdout
            }]
        );
        assert_eq!(parse("/app/server", &[]), vec![Command::Serve]);
    }
}
