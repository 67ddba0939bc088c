//! The dashboard's two languages. Every string a page shows is written in English in the
//! code and looked up here for French, so a missing translation shows English rather than a
//! blank; `every_phrase_has_a_french_translation` keeps the table complete.

use axum::http::HeaderMap;
use axum::http::header::{ACCEPT_LANGUAGE, COOKIE};

/// A dashboard language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// French.
    Fr,
}

/// The cookie that remembers the chosen language.
pub const LANG_COOKIE: &str = "terrain_lang";

impl Lang {
    /// The language code (`en`, `fr`), also used to pick form labels.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// A language from its code.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().get(..2) {
            Some("en") => Some(Lang::En),
            Some("fr") => Some(Lang::Fr),
            _ => None,
        }
    }

    /// The language of a request: the cookie if set, else the browser's preference, else
    /// French (the language of both missions' supervisors).
    pub fn of(headers: &HeaderMap) -> Lang {
        let cookie = headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|kv| kv.trim().split_once('='))
            .find(|(k, _)| *k == LANG_COOKIE)
            .and_then(|(_, v)| Lang::from_code(v));
        cookie
            .or_else(|| {
                let accept = headers.get(ACCEPT_LANGUAGE)?.to_str().ok()?;
                accept.split(',').find_map(Lang::from_code)
            })
            .unwrap_or(Lang::Fr)
    }

    /// A review status as people read it.
    pub fn status(self, status: terrain_core::survey::ReviewStatus) -> &'static str {
        use terrain_core::survey::ReviewStatus as R;
        match (self, status) {
            (Lang::En, R::Received) => "received",
            (Lang::En, R::HasIssues) => "has issues",
            (Lang::En, R::SentBack) => "sent back",
            (Lang::En, R::Approved) => "approved",
            (Lang::En, R::Rejected) => "rejected",
            (Lang::En, R::ChangedAfterApproval) => "changed after approval",
            (Lang::Fr, status) => self.t(status.as_str()),
        }
    }

    /// The phrase in this language.
    pub fn t(self, english: &'static str) -> &'static str {
        match self {
            Lang::En => english,
            Lang::Fr => french(english).unwrap_or(english),
        }
    }
}

/// Every phrase of the dashboard, in English and French.
const PHRASES: &[(&str, &str)] = &[
    ("Data feeds", "Flux de données"),
    ("Entities", "Entités"),
    ("Download", "Télécharger"),
    (
        "No form of your projects declares an entity list yet.",
        "Aucun formulaire de vos projets ne déclare encore de liste d'entités.",
    ),
    ("List", "Liste"),
    ("Search", "Rechercher"),
    ("Conflicts only", "Conflits seulement"),
    ("Deleted too", "Supprimées aussi"),
    ("Show", "Afficher"),
    ("Imported", "Importé"),
    ("Line", "Ligne"),
    ("Id", "Identifiant"),
    ("Deleted", "Supprimée"),
    ("Conflict to settle", "Conflit à régler"),
    ("Previous", "Précédent"),
    ("Next", "Suivant"),
    ("Seed or update from CSV", "Alimenter ou mettre à jour depuis un CSV"),
    (
        "Columns: name (the id), label, then one per property. Importing the same file again changes nothing.",
        "Colonnes : name (l'identifiant), label, puis une par propriété. Importer de nouveau le même fichier ne change rien.",
    ),
    ("Import", "Importer"),
    ("Conflicts to settle", "Conflits à régler"),
    ("Properties", "Propriétés"),
    ("Surveys that made it", "Enquêtes qui l'ont faite"),
    ("Restore", "Restaurer"),
    ("Delete", "Supprimer"),
    (
        "Excel and Power BI read each project's OData feed. Sign in with Basic: your user name, and a feed token as the password.",
        "Excel et Power BI lisent le flux OData de chaque projet. Connectez-vous en « De base » : votre nom d'utilisateur, et un jeton de flux comme mot de passe.",
    ),
    ("OData feed", "Flux OData"),
    ("Feed tokens", "Jetons de flux"),
    ("Copy this token now: it is shown only once.", "Copiez ce jeton maintenant : il n'est affiché qu'une fois."),
    (
        "A feed token only reads. Name it after where it is used.",
        "Un jeton de flux ne fait que lire. Nommez-le d'après l'endroit où il sert.",
    ),
    ("Where it is used", "Où il sert"),
    ("Create a token", "Créer un jeton"),
    ("No feed token yet.", "Aucun jeton de flux pour l'instant."),
    ("Created", "Créé le"),
    ("Expires", "Expire le"),
    ("Revoked", "Révoqué"),
    ("Active", "Actif"),
    ("Revoke", "Révoquer"),
    ("Surveys", "Enquêtes"),
    ("No form is published in your projects yet.", "Aucun formulaire n'est encore publié dans vos projets."),
    ("Preview", "Aperçu"),
    ("New survey", "Nouvelle enquête"),
    ("Nothing you enter here is saved.", "Rien de ce que vous saisissez ici n'est enregistré."),
    ("Form language", "Langue du formulaire"),
    ("This page needs JavaScript.", "Cette page a besoin de JavaScript."),
    ("Save draft", "Enregistrer le brouillon"),
    ("Finalize", "Finaliser"),
    ("Add", "Ajouter"),
    ("Remove", "Retirer"),
    ("required", "obligatoire"),
    ("Ready to finalize.", "Prête à finaliser."),
    ("Not ready to finalize:", "Pas encore prête à finaliser :"),
    ("Saved as a draft.", "Enregistrée comme brouillon."),
    ("Could not save:", "Enregistrement impossible :"),
    ("Could not evaluate:", "Évaluation impossible :"),
    ("Not available in the browser.", "Non disponible dans le navigateur."),
    ("Choose…", "Choisir…"),
    ("Progress", "Avancement"),
    ("Map", "Carte"),
    ("Administration", "Administration"),
    ("Log in", "Se connecter"),
    ("Log out", "Se déconnecter"),
    ("Change your password", "Changer votre mot de passe"),
    (
        "An administrator reset your password: choose your own to go on.",
        "Un administrateur a réinitialisé votre mot de passe : choisissez le vôtre pour continuer.",
    ),
    ("Current password", "Mot de passe actuel"),
    ("New password", "Nouveau mot de passe"),
    ("New password, again", "Nouveau mot de passe, à nouveau"),
    (
        "Your other sessions end: log in again on your other devices.",
        "Vos autres sessions prennent fin : reconnectez-vous sur vos autres appareils.",
    ),
    ("Change password", "Changer le mot de passe"),
    (
        "The two new passwords differ: type the same one twice.",
        "Les deux nouveaux mots de passe diffèrent : saisissez le même deux fois.",
    ),
    ("Temporary password", "Mot de passe provisoire"),
    ("Your devices", "Vos appareils"),
    ("Devices of", "Appareils de"),
    ("Devices", "Appareils"),
    (
        "Revoke a device that was lost, stolen or replaced: it can no longer sync or log in, and what it already sent stays.",
        "Révoquez un appareil perdu, volé ou remplacé : il ne peut plus synchroniser ni se connecter, et ce qu'il a déjà envoyé reste.",
    ),
    ("No device has logged in yet.", "Aucun appareil ne s'est encore connecté."),
    ("Device", "Appareil"),
    ("First login", "Première connexion"),
    ("Last sync", "Dernière synchronisation"),
    ("App", "Application"),
    ("never", "jamais"),
    ("revoked", "révoqué"),
    ("Scan this code with the Terrain app", "Scannez ce code avec l'application Terrain"),
    ("It works once, until", "Il fonctionne une fois, jusqu'au"),
    ("Label", "Libellé"),
    ("New phone", "Nouveau téléphone"),
    ("Enrol a device by QR code", "Enrôler un appareil par code QR"),
    ("Codes not used yet", "Codes pas encore utilisés"),
    ("Enrol a device", "Enrôler un appareil"),
    (
        "Scan this QR code from the Terrain app, not the camera: the app enrols the phone with it.",
        "Scannez ce code QR depuis l'application Terrain, pas l'appareil photo : l'application enrôle le téléphone avec.",
    ),
    ("until", "jusqu'au"),
    ("Reset password", "Réinitialiser le mot de passe"),
    ("User name", "Nom d'utilisateur"),
    ("Password", "Mot de passe"),
    ("Supervisors' dashboard", "Tableau de bord des superviseurs"),
    ("Form", "Formulaire"),
    ("Team", "Équipe"),
    ("Enumerator", "Enquêteur"),
    ("Review", "Revue"),
    ("From", "Du"),
    ("To", "Au"),
    ("Conflicts", "Conflits"),
    ("Files", "Fichiers"),
    ("Files on the server", "Fichiers reçus sur le serveur"),
    ("Files still on the device", "Fichiers encore sur l'appareil"),
    (
        "Still on the device: it arrives when the device syncs",
        "Encore sur l'appareil : il arrivera à sa prochaine synchronisation",
    ),
    ("any", "tous"),
    ("with conflicts", "avec conflits"),
    ("without conflicts", "sans conflit"),
    ("Filter", "Filtrer"),
    ("Reset", "Effacer"),
    ("Started", "Commencée"),
    ("Updated", "Modifiée"),
    ("Status", "État"),
    ("surveys match", "enquêtes correspondent"),
    ("Next page", "Page suivante"),
    ("First page", "Première page"),
    ("Approve selected", "Approuver la sélection"),
    ("Reject selected", "Rejeter la sélection"),
    ("Select all", "Tout sélectionner"),
    ("No survey matches these filters.", "Aucune enquête ne correspond à ces filtres."),
    ("received", "reçue"),
    ("has_issues", "à problèmes"),
    ("sent_back", "renvoyée"),
    ("changed_after_approval", "modifiée après approbation"),
    ("approved", "approuvée"),
    ("rejected", "rejetée"),
    ("draft", "brouillon"),
    ("finalized", "finalisée"),
    ("Answers", "Réponses"),
    ("Not relevant: left out of exports", "Non pertinente : exclue des exports"),
    ("Required answer missing", "Réponse obligatoire manquante"),
    ("Validation", "Validation"),
    (
        "Every required answer is given and every constraint holds.",
        "Toutes les réponses obligatoires sont données et toutes les contraintes sont respectées.",
    ),
    ("History", "Historique"),
    ("by", "par"),
    ("received at", "reçu le"),
    ("cleared", "effacée"),
    ("Correct", "Corriger"),
    ("New value", "Nouvelle valeur"),
    ("Save the correction", "Enregistrer la correction"),
    ("Comments", "Commentaires"),
    ("No comment yet.", "Aucun commentaire."),
    ("about", "sur"),
    ("Actions", "Actions"),
    ("Comment", "Commentaire"),
    ("Question (optional)", "Question (facultatif)"),
    ("Approve", "Approuver"),
    ("Reject", "Rejeter"),
    ("Flag issues", "Signaler des problèmes"),
    ("Send back to the enumerator", "Renvoyer à l'enquêteur"),
    ("Add the comment only", "Ajouter seulement le commentaire"),
    (
        "These answers were changed by two people at once. Choose the value to keep, or enter another.",
        "Ces réponses ont été modifiées par deux personnes en même temps. Choisissez la valeur à garder, ou saisissez-en une autre.",
    ),
    ("Keep this value", "Garder cette valeur"),
    ("Assigned to", "Attribuée à"),
    ("nobody in particular", "personne en particulier"),
    ("Assign to", "Attribuer à"),
    ("Assign", "Attribuer"),
    ("Other value", "Autre valeur"),
    ("Settle", "Trancher"),
    ("Instance", "Occurrence"),
    ("no instance", "aucune occurrence"),
    ("Surveys per enumerator per day", "Enquêtes par enquêteur et par jour"),
    ("Surveys per day", "Enquêtes par jour"),
    ("Total", "Total"),
    ("No survey yet.", "Pas encore d'enquête."),
    ("GPS points and plot outlines", "Points GPS et contours des parcelles"),
    ("Click a point to open its survey.", "Cliquez sur un point pour ouvrir son enquête."),
    ("No survey with a location matches these filters.", "Aucune enquête localisée ne correspond à ces filtres."),
    ("shown of", "affichées sur"),
    ("none", "aucune"),
    ("Entity", "Entité"),
    ("created", "créée"),
    ("updated", "mise à jour"),
    ("the first", "les premières"),
    ("Show on the map", "Voir sur la carte"),
    ("Users", "Utilisateurs"),
    ("Teams", "Équipes"),
    ("Projects", "Projets"),
    ("Forms", "Formulaires"),
    ("Role", "Rôle"),
    ("Name", "Nom"),
    ("Display name", "Nom affiché"),
    ("Create", "Créer"),
    ("Disable", "Désactiver"),
    ("Enable", "Réactiver"),
    ("disabled", "désactivé"),
    ("active", "actif"),
    ("Members", "Membres"),
    ("Add to team", "Ajouter à l'équipe"),
    ("Project", "Projet"),
    ("Version", "Version"),
    ("Title", "Titre"),
    ("Publish a form version (XLSForm .xlsx or .csv)", "Publier une version de formulaire (XLSForm .xlsx ou .csv)"),
    ("Files the form reads (CSV lists)", "Fichiers que lit le formulaire (listes CSV)"),
    ("Publish", "Publier"),
    ("Audit log (CSV)", "Journal d'audit (CSV)"),
    ("Done.", "C'est fait."),
    ("Back to the list", "Retour à la liste"),
    ("Survey", "Enquête"),
    ("Something went wrong", "Un problème est survenu"),
    ("Language", "Langue"),
    ("Saved.", "Enregistré."),
    ("reviewed", "revues"),
    ("refused", "refusées"),
    ("Changed after approval", "Modifiée après approbation"),
    ("No answer differs from the approved ones.", "Aucune réponse ne diffère de celles approuvées."),
    (
        "These answers differ from the ones approved; approve again once checked:",
        "Ces réponses diffèrent de celles approuvées ; approuvez de nouveau après vérification :",
    ),
    ("Approved surveys", "Enquêtes approuvées"),
    ("frozen", "gelées"),
    ("open to changes", "modifiables"),
    ("Allow changes", "Autoriser les modifications"),
    ("Freeze", "Geler"),
    ("Surveys that need attention", "Enquêtes à examiner"),
    ("Every stored survey reads.", "Toutes les enquêtes enregistrées sont lisibles."),
    (
        "These surveys could not be read: they are left out of syncs, exports and the map until fixed.",
        "Ces enquêtes n'ont pas pu être lues : elles sont écartées des synchronisations, des exports et de la carte jusqu'à réparation.",
    ),
    ("Last seen", "Vue la dernière fois"),
    ("Times", "Fois"),
    ("Why", "Raison"),
    ("Create the first administrator", "Créer le premier administrateur"),
    (
        "This survey has answers changed by two people at once.",
        "Cette enquête a des réponses modifiées par deux personnes en même temps.",
    ),
];

fn french(english: &str) -> Option<&'static str> {
    PHRASES.iter().find(|(en, _)| *en == english).map(|(_, fr)| *fr)
}

/// The English phrases, for the test that every phrase the pages use is in the table.
#[cfg(test)]
pub(crate) fn known(english: &str) -> bool {
    french(english).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_come_from_the_cookie_then_the_browser() {
        let mut headers = HeaderMap::new();
        assert_eq!(Lang::of(&headers), Lang::Fr);
        headers.insert(ACCEPT_LANGUAGE, "en-GB,en;q=0.9".parse().unwrap());
        assert_eq!(Lang::of(&headers), Lang::En);
        headers.insert(COOKIE, "a=b; terrain_lang=fr".parse().unwrap());
        assert_eq!(Lang::of(&headers), Lang::Fr);
        assert_eq!(Lang::Fr.t("Surveys"), "Enquêtes");
        assert_eq!(Lang::En.t("Surveys"), "Surveys");
    }

    #[test]
    fn every_phrase_has_a_french_translation() {
        // The pages' phrases are literals passed to `t`: find them in the sources.
        let sources = [
            include_str!("layout.rs"),
            include_str!("login.rs"),
            include_str!("surveys.rs"),
            include_str!("survey.rs"),
            include_str!("progress.rs"),
            include_str!("map.rs"),
            include_str!("admin.rs"),
            include_str!("setup.rs"),
            include_str!("fill.rs"),
            include_str!("feeds.rs"),
            include_str!("password.rs"),
            include_str!("devices.rs"),
            include_str!("entities.rs"),
        ];
        let mut missing = Vec::new();
        for source in sources {
            for piece in source.split(".t(\"").skip(1) {
                if let Some((phrase, _)) = piece.split_once("\")")
                    && !known(phrase)
                {
                    missing.push(phrase.to_owned());
                }
            }
        }
        assert!(missing.is_empty(), "phrases without French: {missing:?}");
    }
}
