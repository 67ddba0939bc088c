//! What a change touches: the answers, the review, the metadata or the document root.
//!
//! The server judges every change by the rights of the person behind its actor (an
//! enumerator may not touch the review, nobody may rewrite the metadata or the root), so it
//! needs to know which part of the survey each operation lands in, including operations
//! inside repeat instances that were deleted later.

use std::collections::{BTreeSet, HashMap};

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{ActorId, Change};

/// A part of the survey document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Area {
    /// The answers, repeat instances included.
    Answers,
    /// The review status and comments.
    Review,
    /// `meta.status` (finalize, reopen).
    Status,
    /// Another `meta` key: fixed once the survey is created.
    Meta(String),
    /// A key of the document root: fixed once the survey is created.
    Root(String),
}

/// Which areas one change touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footprint {
    /// The change's hash.
    pub hash: automerge::ChangeHash,
    /// The actor that made it (hex).
    pub actor: String,
    /// Whether it is a survey's first change (no dependencies), which creates the layout.
    pub creation: bool,
    /// The areas its operations land in.
    pub areas: BTreeSet<Area>,
}

impl Footprint {
    /// Whether it touches anything other than `allowed`.
    pub fn exceeds(&self, allowed: &[Area]) -> Option<&Area> {
        self.areas.iter().find(|a| !allowed.contains(a))
    }
}

/// The footprints of the `new` changes of a document whose changes are `all`.
pub fn footprints(all: &[Change], new: &[Change]) -> Vec<Footprint> {
    // Each change is decoded once: decoding dominates the cost, and the new changes are
    // usually most of the document (a survey arriving for the first time).
    let all: Vec<(&Change, automerge::ExpandedChange)> = all.iter().map(|c| (c, c.decode())).collect();
    let tree = ObjectTree::of(&all);
    let wanted: std::collections::HashSet<automerge::ChangeHash> = new.iter().map(Change::hash).collect();
    all.iter()
        .filter(|(change, _)| wanted.contains(&change.hash()))
        .map(|(change, decoded)| {
            let areas = decoded
                .operations
                .iter()
                .map(|op| {
                    let key = match &op.key {
                        Key::Map(k) => k.to_string(),
                        Key::Seq(_) => String::new(),
                    };
                    tree.area(&op.obj, key)
                })
                .collect();
            Footprint {
                hash: change.hash(),
                actor: change.actor_id().to_hex_string(),
                creation: change.deps().is_empty(),
                areas,
            }
        })
        .collect()
}

/// Where every object of a document was created: its parent and the key it hangs under.
///
/// Built from the change history rather than the current state, so objects deleted since
/// (a removed repeat instance) are still placed; Automerge's own `parents` asserts on them.
struct ObjectTree {
    parent: HashMap<(u64, ActorId), (ObjectId, String)>,
}

impl ObjectTree {
    fn of(changes: &[(&Change, automerge::ExpandedChange)]) -> ObjectTree {
        let mut parent = HashMap::new();
        for (change, decoded) in changes {
            let start = change.start_op().get();
            let actor = change.actor_id();
            for (i, op) in decoded.operations.iter().enumerate() {
                if let OpType::Make(_) = op.action {
                    let key = match &op.key {
                        Key::Map(k) => k.to_string(),
                        Key::Seq(_) => String::new(),
                    };
                    parent.insert((start + i as u64, actor.clone()), (op.obj.clone(), key));
                }
            }
        }
        ObjectTree { parent }
    }

    /// The area of an operation with `key` on `obj`.
    fn area(&self, obj: &ObjectId, key: String) -> Area {
        let mut current = obj.clone();
        let mut below_root = key;
        let mut steps = 0;
        // Walk up to the root; the root key the object hangs under decides the area.
        while let ObjectId::Id(id) = &current {
            let Some((up, up_key)) = self.parent.get(&(id.0, id.1.clone())) else {
                // Not created by any change of this document: nothing Terrain wrote.
                return Area::Root(below_root);
            };
            steps += 1;
            if steps > 64 {
                return Area::Root(below_root);
            }
            if matches!(up, ObjectId::Root) {
                return match up_key.as_str() {
                    "answers" => Area::Answers,
                    "review" => Area::Review,
                    "meta" if steps == 1 && below_root == "status" => Area::Status,
                    "meta" => Area::Meta(below_root),
                    other => Area::Root(other.to_owned()),
                };
            }
            below_root = up_key.clone();
            current = up.clone();
        }
        Area::Root(below_root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::{Form, FormIndex};
    use crate::identity::{Author, Role, new_actor};
    use crate::survey::{AnswerPath, Answers, Status, SurveyDoc};
    use crate::value::Value;
    use automerge::transaction::Transactable;
    use automerge::{ROOT, ReadDoc};
    use chrono::Utc;

    fn form() -> Form {
        Form::from_json(include_str!("../../tests/fixtures/household.json")).unwrap()
    }

    #[test]
    fn each_change_is_placed_in_its_area() {
        let form = form();
        let index = FormIndex::new(&form);
        let author = Author::new("awa", "phone", Role::Enumerator);
        let mut doc = SurveyDoc::create(&form, "s", &author, new_actor(), Utc::now(), &Answers::default()).unwrap();
        let start = doc.heads();
        doc.set_answer(&index, &"village".parse().unwrap(), Value::Text("Kindia".into())).unwrap();
        doc.commit(Utc::now());
        // An instance filled then removed: its ops must still count as answers.
        let member = AnswerPath::top("member");
        doc.add_repeat_instance(&index, &member, None).unwrap();
        doc.set_answer(&index, &member.child(0, "age"), Value::Integer(3)).unwrap();
        doc.remove_repeat_instance(&index, &member, 0).unwrap();
        doc.commit(Utc::now());
        doc.set_status(Status::Finalized).unwrap();
        doc.commit(Utc::now());
        let review = doc.automerge().get(ROOT, "review").unwrap().unwrap().1;
        doc.automerge_mut().put(&review, "status", "approved").unwrap();
        doc.commit(Utc::now());
        let meta = doc.automerge().get(ROOT, "meta").unwrap().unwrap().1;
        doc.automerge_mut().put(&meta, "created_by", "someone").unwrap();
        doc.commit(Utc::now());
        doc.automerge_mut().put(ROOT, "answers", "gone").unwrap();
        doc.commit(Utc::now());

        let all = doc.automerge_mut().get_changes(&[]);
        let prints = footprints(&all, &all);
        assert!(prints[0].creation);
        let later: Vec<_> = doc.automerge_mut().get_changes(&start);
        let areas: Vec<Vec<Area>> =
            footprints(&all, &later).into_iter().map(|f| f.areas.into_iter().collect()).collect();
        assert_eq!(
            areas,
            vec![
                vec![Area::Answers],
                vec![Area::Answers],
                vec![Area::Status],
                vec![Area::Review],
                vec![Area::Meta("created_by".into())],
                vec![Area::Root("answers".into())],
            ]
        );
    }
}
