//! Full-text search over the live products, with tantivy's inverted index in
//! memory: English stemming, every word of a search must match (as a word
//! or as the start of one) in the title, keywords or description, and
//! matches rank by where they are: title over keywords over description.
//!
//! tantivy analyses and indexes the text; a search reads the postings of
//! each word's prefix range straight into bitsets, one per word and field.
//! That is all the query language a shop's search box needs (AND of
//! prefixes, weighted by field), and it costs a fraction of tantivy's
//! general query machinery, which scores through unions of scorers.

use tantivy::columnar::Column;
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED,
};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{
    DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, SegmentOrdinal, SegmentReader,
    TantivyDocument, Term,
};

use crate::domain::Product;

/// The analyser tantivy ships for English: words of letters and digits,
/// lower-cased, Porter-stemmed (`dresses` and `dress` are one word).
const ANALYSER: &str = "en_stem";

/// The writer's indexing arena; tantivy's floor per thread is 15 MB.
const WRITER_MEMORY: usize = 15_000_000;

#[derive(Debug, thiserror::Error)]
pub enum TextIndexError {
    #[error("the text index failed")]
    Index(#[from] tantivy::TantivyError),
    #[error("the text index could not be read")]
    Read(#[from] std::io::Error),
}

/// The index and its one writer. Searches go through a `Searcher`, a
/// snapshot of the index that later writes do not change.
pub struct TextIndex {
    fields: Fields,
    writer: IndexWriter<TantivyDocument>,
    reader: IndexReader,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    /// With their weights in a match's score, best first.
    texts: [(Field, f32); 3],
}

impl Fields {
    fn title(&self) -> Field {
        self.texts[0].0
    }

    fn keywords(&self) -> Field {
        self.texts[1].0
    }

    fn description(&self) -> Field {
        self.texts[2].0
    }
}

/// Runs searches; needs no lock on the writer.
#[derive(Clone)]
pub struct TextSearch {
    fields: Fields,
    analyser: TextAnalyzer,
}

impl TextIndex {
    pub fn new() -> Result<(TextIndex, TextSearch), TextIndexError> {
        let mut schema = Schema::builder();
        // Documents only: a match's score is the weight of its field, so
        // frequencies and positions would be written and never read.
        let text = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYSER)
                .set_index_option(IndexRecordOption::Basic),
        );
        let fields = Fields {
            id: schema.add_u64_field("id", INDEXED | FAST),
            texts: [
                (schema.add_text_field("title", text.clone()), 10.0),
                (schema.add_text_field("keywords", text.clone()), 4.0),
                (schema.add_text_field("description", text), 1.0),
            ],
        };
        let index = Index::create_in_ram(schema.build());
        let analyser = index
            .tokenizers()
            .get(ANALYSER)
            .expect("tantivy registers its English analyser");
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok((
            TextIndex {
                fields,
                writer,
                reader,
            },
            TextSearch { fields, analyser },
        ))
    }

    /// Puts each product in, replacing what was there under its id, and
    /// takes out each of `removed`; the next `searcher` sees all of it.
    pub fn write<'a>(
        &mut self,
        upserts: impl IntoIterator<Item = &'a Product>,
        removed: impl IntoIterator<Item = i64>,
    ) -> Result<(), TextIndexError> {
        let fields = self.fields;
        for id in removed {
            self.writer.delete_term(id_term(fields.id, id));
        }
        for product in upserts {
            self.writer.delete_term(id_term(fields.id, product.id));
            let mut document = TantivyDocument::new();
            document.add_u64(fields.id, product_key(product.id));
            document.add_text(fields.title(), &product.title);
            document.add_text(fields.keywords(), product.relevant_keywords.join(" "));
            document.add_text(fields.description(), &product.description);
            self.writer.add_document(document)?;
        }
        self.writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    pub fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    /// The product id of every live document of `searcher`, by segment and
    /// document number, so that matches become products without a lookup.
    pub fn ids(&self, searcher: &Searcher) -> Result<Vec<Vec<Option<i64>>>, TextIndexError> {
        let id = self.fields.id;
        searcher
            .segment_readers()
            .iter()
            .map(|segment| {
                let name = segment.schema().get_field_name(id).to_owned();
                let ids: Column<u64> = segment.fast_fields().u64(&name)?;
                Ok((0..segment.max_doc())
                    .map(|doc| {
                        if segment.is_deleted(doc) {
                            None
                        } else {
                            ids.first(doc).and_then(|id| i64::try_from(id).ok())
                        }
                    })
                    .collect())
            })
            .collect()
    }
}

fn product_key(id: i64) -> u64 {
    u64::try_from(id).unwrap_or_default()
}

fn id_term(field: Field, id: i64) -> Term {
    Term::from_field_u64(field, product_key(id))
}

/// A matching document: its segment, its number there and its score.
pub type Match = (SegmentOrdinal, DocId, f32);

impl TextSearch {
    /// Every document where each of `terms` (plain lower-case words)
    /// matches, in some field, as a stemmed word or its beginning; its
    /// score is the sum, over the words, of the weights of the fields each
    /// matched in. Deleted documents may be among them: the caller maps
    /// documents to live products.
    pub fn matches(
        &self,
        terms: &[String],
        searcher: &Searcher,
    ) -> Result<Vec<Match>, TextIndexError> {
        let mut analyser = self.analyser.clone();
        let mut stems = Vec::with_capacity(terms.len());
        for term in terms {
            let mut stem = None;
            analyser
                .token_stream(term)
                .process(&mut |token| stem = Some(token.text.clone()));
            // A word the analyser drops (too long to index) matches nothing.
            let Some(stem) = stem else {
                return Ok(Vec::new());
            };
            stems.push(stem);
        }
        let mut found = Vec::new();
        for (ordinal, segment) in searcher.segment_readers().iter().enumerate() {
            self.segment_matches(&stems, segment, ordinal as SegmentOrdinal, &mut found)?;
        }
        Ok(found)
    }

    fn segment_matches(
        &self,
        stems: &[String],
        segment: &SegmentReader,
        ordinal: SegmentOrdinal,
        found: &mut Vec<Match>,
    ) -> Result<(), TextIndexError> {
        let documents = segment.max_doc() as usize;
        // For each word, where it matches in each field.
        let mut hits: Vec<[Bits; 3]> = Vec::with_capacity(stems.len());
        let mut everywhere = Bits::full(documents);
        for stem in stems {
            let mut fields = [
                Bits::empty(documents),
                Bits::empty(documents),
                Bits::empty(documents),
            ];
            let mut anywhere = Bits::empty(documents);
            for ((field, _), bits) in self.fields.texts.iter().zip(&mut fields) {
                prefix_postings(segment, *field, stem, bits)?;
                anywhere.or(bits);
            }
            everywhere.and(&anywhere);
            hits.push(fields);
        }
        for doc in everywhere.ones() {
            let score = hits
                .iter()
                .map(|fields| {
                    fields
                        .iter()
                        .zip(&self.fields.texts)
                        .filter(|(bits, _)| bits.contains(doc))
                        .map(|(_, (_, weight))| weight)
                        .sum::<f32>()
                })
                .sum();
            found.push((ordinal, doc as DocId, score));
        }
        Ok(())
    }
}

/// Sets the documents of `segment` whose `field` holds a word starting with
/// `prefix`.
fn prefix_postings(
    segment: &SegmentReader,
    field: Field,
    prefix: &str,
    bits: &mut Bits,
) -> Result<(), TextIndexError> {
    let index = segment.inverted_index(field)?;
    let mut range = index.terms().range().ge(prefix.as_bytes());
    if let Some(end) = prefix_end(prefix.as_bytes()) {
        range = range.lt(end);
    }
    let mut terms = range.into_stream()?;
    while terms.advance() {
        let mut postings =
            index.read_block_postings_from_terminfo(terms.value(), IndexRecordOption::Basic)?;
        while !postings.docs().is_empty() {
            for doc in postings.docs() {
                bits.insert(*doc as usize);
            }
            postings.advance();
        }
    }
    Ok(())
}

/// The first byte string after every string that starts with `prefix`;
/// `None` when there is none (all bytes 0xff).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// A set of document numbers of one segment.
struct Bits(Vec<u64>);

impl Bits {
    fn empty(len: usize) -> Bits {
        Bits(vec![0; len.div_ceil(64)])
    }

    fn full(len: usize) -> Bits {
        let mut words = vec![u64::MAX; len.div_ceil(64)];
        if let Some(last) = words.last_mut() {
            if len % 64 != 0 {
                *last = (1u64 << (len % 64)) - 1;
            }
        }
        Bits(words)
    }

    fn insert(&mut self, bit: usize) {
        if let Some(word) = self.0.get_mut(bit / 64) {
            *word |= 1 << (bit % 64);
        }
    }

    fn contains(&self, bit: usize) -> bool {
        self.0
            .get(bit / 64)
            .is_some_and(|word| word & (1 << (bit % 64)) != 0)
    }

    fn or(&mut self, other: &Bits) {
        for (word, other) in self.0.iter_mut().zip(&other.0) {
            *word |= other;
        }
    }

    fn and(&mut self, other: &Bits) {
        for (word, other) in self.0.iter_mut().zip(&other.0) {
            *word &= other;
        }
    }

    fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(index, word)| {
            let mut word = *word;
            std::iter::from_fn(move || {
                (word != 0).then(|| {
                    let bit = word.trailing_zeros() as usize;
                    word &= word - 1;
                    index * 64 + bit
                })
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ranges_end_after_every_continuation() {
        assert_eq!(prefix_end(b"dress"), Some(b"drest".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
    }

    #[test]
    fn bits_hold_what_was_put_in() {
        let mut bits = Bits::empty(130);
        for bit in [0, 63, 64, 129] {
            bits.insert(bit);
        }
        assert_eq!(bits.ones().collect::<Vec<_>>(), [0, 63, 64, 129]);
        let mut all = Bits::full(130);
        assert_eq!(all.ones().count(), 130);
        all.and(&bits);
        assert_eq!(all.ones().collect::<Vec<_>>(), [0, 63, 64, 129]);
        assert!(bits.contains(129) && !bits.contains(128));
    }
}
