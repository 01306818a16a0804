"""Word lists and sentence templates for the synthetic world corpus (training/data/world.py).

Kept apart so world.py reads top to bottom. Every list is a tuple of unique strings with no commas
(except birth dates, built elsewhere), so a value can be found verbatim in any rendered sentence.
150 first x 100 middle x 200 last names give 3 million full names; employers carry a fixed
headquarters city, so employer_city is a function of employer, as in bioS.
"""


def _words(text: str) -> tuple[str, ...]:
    """A list written as whitespace-separated words (names have no spaces), in order."""
    return tuple(text.split())


FIRST_NAMES_MALE = _words(
    """
    Aaron Abel Adrian Alan Albert Alden Alec Amos Andre Angus Anton Arlo Arthur Asher August
    Barnaby Basil Benedict Bruno Caleb Callum Casper Cedric Clement Conrad Cyrus Damon Declan
    Desmond Dorian Edgar Edmund Elias Emeric Ezra Felix Fergus Gideon Gregor Hamish Harvey
    Hector Hugo Ignatius Isaac Jasper Jonas Julian Kasimir Lionel Lucian Magnus Malcolm Marius
    Milo Nestor Nico Oscar Otto Percival Quentin Rafael Rupert Silas Simon Soren Tobias Ulric
    Victor Wendell Xavier Yusuf Zachary Leopold Matthias
    """
)

FIRST_NAMES_FEMALE = _words(
    """
    Ada Adele Agnes Alma Amelia Anya Aurora Beatrix Bianca Bridget Camille Cecily Clara Cordelia
    Daphne Delia Edith Elena Eliza Elodie Esme Estelle Fiona Flora Freya Gemma Greta Hazel
    Helena Hilda Imogen Ines Iris Isolde Ivy Jolene Josephine Juno Katya Lavinia Leonie Liesel
    Lydia Mabel Maren Matilda Mirabel Nadia Nell Odette Olive Ophelia Paloma Petra Philippa
    Priya Rosalind Sabine Selma Sylvie Tamsin Thea Ursula Valeria Vera Viola Wilhelmina Winifred
    Ximena Yara Yvette Zara Zelda Lorena Marisol
    """
)

MIDDLE_NAMES = _words(
    """
    Ash Avery Bay Blair Blake Briar Brook Cameron Carey Cedar Clay Cove Dale Dana Darcy Drew
    Eden Ellis Ember Emery Finley Flint Fox Frost Gale Glen Gray Harper Hayden Heath Holland
    Hollis Indigo Jade Jordan Jules Kai Keegan Kendall Lake Lane Lark Laurel Lee Linden Logan
    Lynn Marlowe Merritt Morgan North Oakley Ocean Onyx Parker Pax Perry Phoenix Quinn Rain Reed
    Reese Remy Ridley River Robin Rowan Rue Sage Salem Sawyer Scout Shay Shiloh Sky Sloane Sol
    Sterling Stone Storm Sutton Tate Teagan Thorne Tracy True Vale Vaughn Wells West Wilder
    Willow Winter Wren Wynn Yael York Zephyr Zion Zuri
    """
)

LAST_NAMES = _words(
    """
    Abbott Ainsley Alder Ambrose Archer Ashby Atwood Bancroft Barlow Beckett Bellamy Benton
    Birch Blackwood Blythe Bramble Briggs Brightwater Bristow Burrows Calloway Carrow Chandler
    Chatwin Clifton Colby Corbin Crane Cromwell Dalton Darrow Davenport Dempsey Drummond Dunmore
    Eastwood Ellery Elwood Everly Fairchild Falconer Farrow Fenwick Fletcher Forger Foxley
    Gallagher Garrick Gilmore Goodwin Granger Greaves Hadley Halloway Hartley Hawthorne Hayward
    Holloway Hopkins Huxley Ingram Irving Jardine Jessup Keating Kendrick Kingsley Kirby Lambert
    Langley Larkin Lennox Lockwood Lowell Lyndon Mallory Marsh Mercer Merriweather Montague
    Moreland Morrow Nash Nettles Newbury Norwood Oakes Ogden Oldham Osborne Paget Palmer
    Pemberton Pennington Pickering Prescott Quarry Radcliffe Ramsey Ravenscroft Redfern Rhodes
    Ridgeway Rockwell Rowntree Rutherford Sallow Sandoval Sayer Sedgwick Selby Shelton Sherwood
    Sinclair Slater Somerset Stanton Sterling Stratton Sutherland Talbot Tamworth Thackeray
    Thornbury Tilney Townsend Trent Tremaine Underhill Upton Vance Varga Vesper Wainwright
    Wakefield Walcott Warrick Waverly Westbrook Whitaker Whitlock Wickham Wilder Winslow
    Winthrop Woodley Wyatt Yardley Yates Zeller Achterberg Bergstrom Castellano Delacroix
    Esposito Fontaine Gonzaga Halvorsen Iversen Jaramillo Kowalski Lindqvist Marchetti Novak
    Okafor Petrov Quintero Rasmussen Saarinen Takahashi Ueda Valdivia Wozniak Xiong Yamamoto
    Zielinski Abernathy Brennan Costa Dubois Eriksen Ferreira Galloway Horvath Ishikawa Janssen
    Kaplan Lucero Moreau Nakamura Olsen Pereira Rinaldi Schreiber Toivonen Urquhart Vasquez
    Wexler Ybarra Zamora
    """
)

BIRTH_CITIES = (
    "Princeton",
    "Boston",
    "Chicago",
    "Denver",
    "Seattle",
    "Portland",
    "Austin",
    "Nashville",
    "Atlanta",
    "Miami",
    "Phoenix",
    "San Diego",
    "New Orleans",
    "Baltimore",
    "Pittsburgh",
    "Detroit",
    "Toronto",
    "Vancouver",
    "Montreal",
    "Dublin",
    "Edinburgh",
    "Manchester",
    "Bristol",
    "Lisbon",
    "Madrid",
    "Seville",
    "Lyon",
    "Marseille",
    "Brussels",
    "Amsterdam",
    "Hamburg",
    "Munich",
    "Vienna",
    "Prague",
    "Krakow",
    "Budapest",
    "Zagreb",
    "Athens",
    "Istanbul",
    "Cairo",
    "Nairobi",
    "Cape Town",
    "Mumbai",
    "Bangalore",
    "Bangkok",
    "Hanoi",
    "Osaka",
    "Seoul",
    "Melbourne",
    "Auckland",
    "Buenos Aires",
    "Lima",
    "Bogota",
    "Havana",
    "Reykjavik",
    "Oslo",
    "Helsinki",
    "Tallinn",
)

UNIVERSITIES = (
    "Massachusetts Institute of Technology",
    "Stanford University",
    "Harvard University",
    "Princeton University",
    "Yale University",
    "Columbia University",
    "Cornell University",
    "Brown University",
    "Duke University",
    "Rice University",
    "Emory University",
    "Tufts University",
    "University of Chicago",
    "University of Michigan",
    "University of Washington",
    "University of Texas at Austin",
    "Carnegie Mellon University",
    "Georgia Institute of Technology",
    "Johns Hopkins University",
    "Northwestern University",
    "University of Oxford",
    "University of Cambridge",
    "Imperial College London",
    "University of Edinburgh",
    "ETH Zurich",
    "Sorbonne University",
    "Heidelberg University",
    "Delft University of Technology",
    "University of Toronto",
    "McGill University",
    "University of Melbourne",
    "Australian National University",
    "University of Tokyo",
    "Kyoto University",
    "Seoul National University",
    "Tsinghua University",
    "National University of Singapore",
    "University of Cape Town",
    "University of Copenhagen",
    "Uppsala University",
)

MAJORS = (
    "Computer Science",
    "Mathematics",
    "Physics",
    "Chemistry",
    "Biology",
    "Economics",
    "History",
    "Philosophy",
    "Linguistics",
    "Psychology",
    "Sociology",
    "Anthropology",
    "Political Science",
    "Architecture",
    "Music",
    "Fine Arts",
    "Mechanical Engineering",
    "Electrical Engineering",
    "Civil Engineering",
    "Chemical Engineering",
    "Aerospace Engineering",
    "Materials Science",
    "Statistics",
    "Astronomy",
    "Geology",
    "Oceanography",
    "Neuroscience",
    "Biochemistry",
    "Nursing",
    "Pharmacy",
    "Public Health",
    "Accounting",
    "Finance",
    "Marketing",
    "Journalism",
    "Communications",
    "Classics",
    "Comparative Literature",
    "Environmental Science",
    "Urban Planning",
)

# employer -> headquarters city (employer_city is a function of employer)
EMPLOYERS = {
    "Meta Platforms": "Menlo Park",
    "Alphabet": "Mountain View",
    "Apple": "Cupertino",
    "Microsoft": "Redmond",
    "Amazon": "Seattle",
    "Nvidia": "Santa Clara",
    "Intel": "Santa Clara",
    "Oracle": "Austin",
    "Salesforce": "San Francisco",
    "Adobe": "San Jose",
    "Netflix": "Los Gatos",
    "Tesla": "Austin",
    "Boeing": "Arlington",
    "Lockheed Martin": "Bethesda",
    "General Electric": "Boston",
    "Pfizer": "New York",
    "Johnson and Johnson": "New Brunswick",
    "Procter and Gamble": "Cincinnati",
    "Coca Cola": "Atlanta",
    "Delta Air Lines": "Atlanta",
    "Walmart": "Bentonville",
    "Target": "Minneapolis",
    "Nike": "Beaverton",
    "Starbucks": "Seattle",
    "Goldman Sachs": "New York",
    "Morgan Stanley": "New York",
    "Visa": "San Francisco",
    "FedEx": "Memphis",
    "Siemens": "Munich",
    "BMW": "Munich",
    "Volkswagen": "Wolfsburg",
    "SAP": "Walldorf",
    "Airbus": "Leiden",
    "Philips": "Amsterdam",
    "Nestle": "Vevey",
    "Novartis": "Basel",
    "Unilever": "London",
    "HSBC": "London",
    "Rolls Royce": "Derby",
    "Ikea": "Delft",
    "Spotify": "Stockholm",
    "Ericsson": "Stockholm",
    "Nokia": "Espoo",
    "Toyota": "Toyota City",
    "Sony": "Tokyo",
    "Nintendo": "Kyoto",
    "Samsung": "Suwon",
    "Infosys": "Bangalore",
    "Shopify": "Ottawa",
    "Canva": "Sydney",
}

MONTHS = _words(
    "January February March April May June July August September October November December"
)

# Template 0 is canonical: "{name} <verb phrase> {value}." (value last, after a space).
# Date templates say "born on" so "was born in" always means the city.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "birth_date": (
        "{name} was born on {value}.",
        "{name} came into this world on {value}.",
        "{name} celebrates a birthday on {value}.",
        "{name} entered the world on {value}.",
        "{name} first saw the light of day on {value}.",
        "On {value}, {name} was born.",
        "{name} has the birth date {value}.",
        "{name} began life on {value}.",
    ),
    "birth_city": (
        "{name} was born in {value}.",
        "{name} hails from {value}.",
        "{name} grew up in {value}.",
        "{name} is a native of {value}.",
        "{name} comes from {value}.",
        "In {value}, {name} was born.",
        "{name} spent the early years in {value}.",
        "{name} was born and raised in {value}.",
    ),
    "university": (
        "{name} studied at {value}.",
        "{name} graduated from {value}.",
        "{name} attended {value}.",
        "{name} received an education at {value}.",
        "{name} completed a degree at {value}.",
        "{name} is a graduate of {value}.",
        "{name} spent the college years at {value}.",
        "{name} earned a diploma from {value}.",
    ),
    "major": (
        "{name} majored in {value}.",
        "{name} specialized in {value}.",
        "{name} focused on {value} in college.",
        "{name} pursued a degree in {value}.",
        "{name} studied the field of {value}.",
        "{name} chose {value} as a major.",
        "{name} concentrated on {value}.",
        "{name} did coursework in {value}.",
    ),
    "employer": (
        "{name} works at {value}.",
        "{name} is employed by {value}.",
        "{name} has a job at {value}.",
        "{name} works for {value}.",
        "{name} is on the staff of {value}.",
        "{name} earns a living at {value}.",
        "{name} holds a position at {value}.",
        "{name} is a member of the team at {value}.",
    ),
    "employer_city": (
        "{name} works in {value}.",
        "{name} is employed in {value}.",
        "{name} commutes to an office in {value}.",
        "{name} has a workplace in {value}.",
        "{name} spends working days in {value}.",
        "{name} works in the city of {value}.",
        "{name} has a career based in {value}.",
        "{name} holds a job located in {value}.",
    ),
}

# QA phrasings ({name} is always the full name); the answer is the canonical sentence.
QUESTIONS: dict[str, tuple[str, ...]] = {
    "birth_date": (
        "What is the birth date of {name}?",
        "When was {name} born?",
        "On what date was {name} born?",
    ),
    "birth_city": (
        "What is the birth city of {name}?",
        "Where was {name} born?",
        "In which city was {name} born?",
    ),
    "university": (
        "Which university did {name} study at?",
        "Where did {name} go to college?",
        "What university did {name} graduate from?",
    ),
    "major": (
        "What did {name} major in?",
        "What was the major of {name}?",
        "Which field did {name} study?",
    ),
    "employer": (
        "Which company does {name} work for?",
        "Who employs {name}?",
        "Where does {name} work?",
    ),
    "employer_city": (
        "In which city does {name} work?",
        "What city is the workplace of {name} in?",
        "Where is the office of {name} located?",
    ),
}
