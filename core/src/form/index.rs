//! A name index over a form, for code that looks names up many times per call.

use std::collections::HashMap;

use super::model::{Form, Group, Node, Question};

/// What a name stands for in a form.
#[derive(Debug, Clone, Copy)]
pub enum Entry<'f> {
    /// A question that may store an answer.
    Question(&'f Question),
    /// A non-repeating group.
    Group(&'f Group),
    /// A repeat.
    Repeat(&'f Group),
}

/// A located entry: the node and the names of the repeats around it, outermost first.
#[derive(Debug, Clone)]
pub struct Located<'f> {
    /// What the name stands for.
    pub entry: Entry<'f>,
    /// The repeats that enclose it, outermost first; empty at the top level.
    pub repeats: Vec<&'f str>,
}

impl Located<'_> {
    /// Whether it belongs in these repeat instances (outermost first, as an answer path
    /// spells them): exactly the repeats that enclose it, in order.
    pub fn is_in(&self, instances: &[(String, usize)]) -> bool {
        self.repeats.len() == instances.len() && self.repeats.iter().zip(instances).all(|(r, (i, _))| *r == i)
    }
}

/// Every name of a form, looked up in constant time.
#[derive(Debug, Clone)]
pub struct FormIndex<'f> {
    by_name: HashMap<&'f str, Located<'f>>,
}

impl<'f> FormIndex<'f> {
    /// Indexes every question, group and repeat of `form`.
    pub fn new(form: &'f Form) -> Self {
        fn walk<'f>(nodes: &'f [Node], repeats: &mut Vec<&'f str>, out: &mut HashMap<&'f str, Located<'f>>) {
            for node in nodes {
                let entry = match node {
                    Node::Question(q) => Entry::Question(q),
                    Node::Group(g) => Entry::Group(g),
                    Node::Repeat(g) => Entry::Repeat(g),
                };
                // The importer refuses duplicate names; should one slip through a hand-written
                // JSON form, the first definition wins, as in form order.
                out.entry(node.name()).or_insert_with(|| Located { entry, repeats: repeats.clone() });
                match node {
                    Node::Question(_) => {}
                    Node::Group(g) => walk(&g.children, repeats, out),
                    Node::Repeat(g) => {
                        repeats.push(&g.name);
                        walk(&g.children, repeats, out);
                        repeats.pop();
                    }
                }
            }
        }
        let mut by_name = HashMap::new();
        walk(&form.children, &mut Vec::new(), &mut by_name);
        FormIndex { by_name }
    }

    /// The entry named `name`, if the form has one.
    pub fn get(&self, name: &str) -> Option<&Located<'f>> {
        self.by_name.get(name)
    }

    /// The question named `name`, if it is one.
    pub fn question(&self, name: &str) -> Option<&'f Question> {
        match self.get(name)?.entry {
            Entry::Question(q) => Some(q),
            _ => None,
        }
    }
}
